"""The check declaration of exercise 07: items, points, inputs, hidden cases, tolerances.

Expected values are never written here: every comparison is against what the reference cell
(``solution.py``) produces from the same inputs, through the same sandbox.

Tolerances. Every training a case runs is full-batch, seeded and single-threaded (the sandbox
sets one torch thread), so the student's run and the reference's see the same numbers unless
the student's code differs. Measured: every observation of every case, computed in one
process with torch at 1 and at 2 threads and repeated, is bit-identical (largest relative
difference 0). What moves a correct answer is float32 summation order (a loop instead of a
generator, torch.linalg.norm(w) ** 2 instead of (w ** 2).sum(), a sum of probabilities
divided by their number instead of torch.mean): ~1e-7 relative. So rtol=1e-5 for penalties,
gradients, probabilities and cross-entropies; stop and restore epochs are whole numbers,
compared exactly; restored weights are copies, compared at rtol=1e-9. The one bound, "the
ensemble's held-out cross-entropy is at most the mean of its members'", is Jensen's
inequality for averaged probabilities (-log is convex): it holds for every seed and size, with
equality for one member, so it needs no margin beyond the float32 rounding of the average
(1e-6 relative). Measured on 12 random ensembles (1-5 seeds, 30-80 points, 10-60 epochs): the
mean member is 0.006-0.16 above the ensemble, 0 for one member. The cross-entropy is computed
unclamped in float64 (torch's binary_cross_entropy clamps each log at -100, and with that
clamp a saturated float32 member made the ensemble look 0.10 worse than its mean member).

Cost. The grader's trainings are at most 120 epochs of a 2-32-32-1 network on 60 points (early
stopping, which stops after ~20) and 5 members x 30 epochs of the 2-64-64-1 network on 50
points (ensemble); the 21 case runs of the reference take ~15 s of wall time on the shared
2-core machine (load 6), while the notebook's own run goes on beside them.
"""

from nngrade.grader.spec import Case, Exercise, Expect, Item
from nngrade.reference.regularization.solution import SOLUTION

PROBA_RTOL = 1e-5

SEQUENCES = (
    # (describe, hidden, patience, min_delta, losses); None is a NaN loss
    ("losses 1.0, 0.8, 0.85, 0.7, 0.75, 0.76, 0.72, 0.9 with patience 2", False,
     2, 0.0, [1.0, 0.8, 0.85, 0.7, 0.75, 0.76, 0.72, 0.9]),
    ("losses 1.0, 0.9, 0.87, 0.86, 0.84, 0.83, 0.82, 0.81 with patience 3 and min_delta 0.05",
     False, 3, 0.05, [1.0, 0.9, 0.87, 0.86, 0.84, 0.83, 0.82, 0.81]),
    ("a plateau of equal losses after an improvement (patience 3)", True,
     3, 0.0, [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.4]),
    ("a loss exactly min_delta below the best, which is no improvement (patience 1, "
     "min_delta 0.25)", True, 1, 0.25, [2.0, 1.0, 0.75, 0.8, 0.5]),
    ("an improvement on the last epoch, after patience epochs without one (patience 2)", True,
     2, 0.0, [1.0, 1.1, 1.2, 0.9]),
    ("patience 0", True, 0, 0.0, [1.0, 0.9, 0.95, 0.5]),
    ("a strictly decreasing loss (patience 0): it never stops", True,
     0, 0.0, [2.0 ** -k for k in range(12)]),
    ("NaN losses, which are no improvement (patience 1)", True,
     1, 0.0, [1.0, 0.8, None, None, 0.1]),
    ("the first loss is the best (patience 5)", True, 5, 0.0, [0.5, 0.6, 0.7, 0.8]),
)

TRAININGS = (
    ("a real training of a 2-32-32-1 network, validation loss checked every epoch "
     "(patience 5, min_delta 0.001)", False,
     {"seed": 20, "n_train": 60, "patience": 5, "min_delta": 1e-3, "max_epochs": 120,
      "lr": 0.02}),
    ("a real training with another seed, 40 points, patience 3 and min_delta 0", True,
     {"seed": 21, "n_train": 40, "patience": 3, "min_delta": 0.0, "max_epochs": 120,
      "lr": 0.03}),
)

ITEMS = (
    Item(
        id="regularization.penalties",
        points=2,
        writes=("l1_penalty", "l2_penalty"),
        cases=(
            Case("build_nothing", "probe_penalties", "a 2-16-16-1 network like the notebook's",
                 args={"kind": "notebook", "seed": 3}),
            Case("build_nothing", "probe_penalties", "a deeper nn.Sequential with four linear "
                 "layers and three outputs", hidden=True, args={"kind": "deep", "seed": 4}),
            Case("build_nothing", "probe_penalties", "a custom nn.Module with nested layers and "
                 "a layer without bias", hidden=True, args={"kind": "branchy", "seed": 5}),
            Case("build_nothing", "probe_penalties", "a model without any weight matrix (its "
                 "only parameter is a bias): both penalties are 0", hidden=True,
                 args={"kind": "no_weights", "seed": 6}),
        ),
        expects=tuple(
            expect for name, formula, hint in (
                ("l1_penalty", "|w|", "the sum of the absolute values of every weight matrix"),
                ("l2_penalty", "w ** 2",
                 "the sum of the squares of every weight matrix: no 1/2, no square root"))
            for expect in (
                Expect(f"{name}_depends_on_biases", f"whether {name}(model) changes when only "
                       "the biases change", rule="equal",
                       hint="biases are not penalized: sum over the weight matrices only "
                            "(parameters whose name ends in \"weight\"), leave out every bias"),
                Expect(f"{name}_differentiable", f"whether {name}(model) returns a tensor that "
                       "autograd can differentiate", rule="equal",
                       hint="keep it a torch tensor built from the parameters: no .item(), "
                            "float(), NumPy or torch.tensor(...) of a number, which cut the "
                            "gradient"),
                *((Expect("l2_penalty_convention", "the quantity l2_penalty(model) computes",
                          rule="equal",
                          hint="the notebook's L2 penalty is the plain sum of w ** 2: no 1/2 "
                               "in front, no square root (torch.norm(w) is the root)"),)
                  if name == "l2_penalty" else ()),
                Expect(f"{name}_value", f"{name}(model)", rtol=1e-5, hint=hint),
                Expect(f"{name}_grad", f"the gradient of {name}(model) with respect to the "
                       "weights", rtol=1e-5, atol=1e-7,
                       hint=f"sum {formula} over the weights with torch operations"),
            )
        ),
        hint="model.named_parameters() gives (name, tensor) pairs; keep the sum a tensor; a "
             "model without weight matrices has penalty 0 (start the sum at 0).",
    ),
    Item(
        id="regularization.dropout",
        points=3,
        writes=("make_dropout_net", "predict"),
        cases=(
            Case("build_nothing", "probe_dropout",
                 "make_dropout_net(32, 0.3), and predict on a 2-16-16-1 network with two "
                 "nn.Dropout(0.5) layers, in train mode, on 20 points",
                 args={"n_hidden": 32, "p": 0.3, "kind": "sequential", "seed": 10,
                       "n_rows": 20}),
            Case("build_nothing", "probe_dropout",
                 "make_dropout_net(8, 0.8), and predict on a custom module that applies "
                 "dropout with nn.functional.dropout(..., training=self.training)",
                 hidden=True, args={"n_hidden": 8, "p": 0.8, "kind": "functional", "seed": 11,
                                    "n_rows": 15}),
            Case("build_nothing", "probe_dropout",
                 "make_dropout_net(16, 0.5), and predict on a single row with a network that "
                 "drops inputs too", hidden=True,
                 args={"n_hidden": 16, "p": 0.5, "kind": "input_dropout", "seed": 12,
                       "n_rows": 1}),
        ),
        expects=(
            Expect("output_shape", "the shape of make_dropout_net's output for 12 rows",
                   rule="equal", hint="one logit per row: the last layer is nn.Linear(n_hidden, "
                                      "1), with no sigmoid"),
            Expect("dropout_ps", "the p of each nn.Dropout that make_dropout_net's network "
                   "applies in a forward pass, in order", rule="equal",
                   hint="put an nn.Dropout(p) after each hidden ReLU, with the p given"),
            Expect("random_in_train", "whether make_dropout_net's network gives different "
                   "outputs on two calls in train mode", rule="equal",
                   hint="nn.Dropout drops units only in train mode; it must be in the forward "
                        "path, between the layers"),
            Expect("deterministic_in_eval", "whether make_dropout_net's network gives the same "
                   "output on two calls in eval mode", rule="equal"),
            Expect("predict_shape", "the shape of predict(model, X)", rule="equal",
                   hint="one probability per row, shape (n,) even for a single row: "
                        ".reshape(-1) or .squeeze(1), not .squeeze()"),
            Expect("predict_deterministic", "whether predict(model, X) gives the same "
                   "probabilities on two calls (its predictions change from call to call)",
                   rule="equal",
                   hint="call model.eval() before the forward pass: in train mode dropout "
                        "drops random units at every call, even under torch.no_grad()"),
            Expect("predict_is_plain", "whether predict's probabilities are the eval-mode "
                   "ones, equal to the same network without dropout", rule="equal",
                   hint="in eval mode dropout passes everything through unchanged (PyTorch "
                        "already scaled by 1/(1-p) while training): no extra scaling"),
            Expect("probabilities", "predict(model, X)", rtol=PROBA_RTOL, atol=1e-7,
                   hint="torch.sigmoid of the eval-mode logits, one per row"),
            Expect("mode_after_train", "the mode predict leaves a model in that was in train "
                   "mode", rule="equal",
                   hint="remember model.training before model.eval(), and call "
                        "model.train(was_training) before returning"),
            Expect("mode_after_eval", "the mode predict leaves a model in that was in eval "
                   "mode", rule="equal",
                   hint="put the model back in the mode it was in (model.train(was_training)), "
                        "not always in train mode"),
        ),
        hint="model.eval() switches dropout off; model.train(mode) switches it back.",
    ),
    Item(
        id="regularization.early_stopping",
        points=3,
        writes=("EarlyStopping",),
        cases=(
            *(Case("build_nothing", "probe_sequence", describe, hidden=hidden,
                   args={"patience": patience, "min_delta": min_delta, "losses": losses})
              for describe, hidden, patience, min_delta, losses in SEQUENCES),
            *(Case("build_nothing", "probe_training", describe, hidden=hidden, args=args)
              for describe, hidden, args in TRAININGS),
        ),
        expects=(
            Expect("stopped_at", "the epoch (counting from 0) at which step first returned "
                   "True, or never", rule="equal",
                   hint="an improvement is loss < best_loss - min_delta (strictly; NaN is "
                        "none); step returns True once more than patience epochs in a row "
                        "brought no improvement"),
            Expect("best_loss", "best_loss after the run", rtol=1e-9,
                   hint="the loss of the last improvement (not of a later, equal or "
                        "slightly lower loss)"),
            Expect("restored_epoch", "the epoch whose weights restore(model) put back",
                   rule="equal",
                   hint="keep a copy of the weights at every improvement: "
                        "copy.deepcopy(model.state_dict()) (model.state_dict() alone holds "
                        "the live tensors, which training goes on changing), and load it "
                        "into the model given to restore: model.load_state_dict(...)"),
            Expect("restored_weights", "the weights after restore(model)", rtol=1e-9,
                   hint="restore loads the copy kept at the best epoch into model "
                        "(model.load_state_dict)"),
        ),
        hint="Keep best_loss, a copy of the best weights and a count of epochs without "
             "improvement.",
    ),
    Item(
        id="regularization.ensemble",
        points=2,
        reads=("make_net", "train_model", "predict"),
        writes=("train_ensemble", "ensemble_predict"),
        cases=(
            Case("build_ensemble", "probe_ensemble",
                 "three seeds (0, 1, 2), 60 training points and 40 epochs",
                 args={"seeds": [0, 1, 2], "data_seed": 30, "n_train": 60, "n_epochs": 40}),
            Case("build_ensemble", "probe_ensemble",
                 "five seeds in no particular order, 50 points and 30 epochs", hidden=True,
                 args={"seeds": [3, 17, 5, 42, 8], "data_seed": 31, "n_train": 50,
                       "n_epochs": 30}),
            Case("build_ensemble", "probe_ensemble", "an ensemble of a single network",
                 hidden=True,
                 args={"seeds": [7], "data_seed": 32, "n_train": 40, "n_epochs": 25}),
        ),
        expects=(
            Expect("n_members", "the number of networks train_ensemble returned", rule="equal",
                   hint="one trained network per seed, in a list"),
            Expect("members_differ", "whether the members differ from each other (one seed "
                   "each)", rule="equal",
                   hint="build each member with make_net(seed) for its own seed"),
            Expect("member_losses", "the held-out cross-entropy of each member",
                   rtol=PROBA_RTOL,
                   hint="make_net(seed), then train_model(model, X, y, n_epochs), for every "
                        "seed in seeds, in order"),
            Expect("beats_mean_member", "whether the ensemble's held-out cross-entropy is at "
                   "most the mean of its members'", rule="equal",
                   hint="average the members' probabilities (predict), not their labels: the "
                        "cross-entropy of an average is at most the average cross-entropy"),
            Expect("ensemble_loss", "the ensemble's held-out cross-entropy", rtol=PROBA_RTOL,
                   hint="the mean of the members' probabilities, not of their logits"),
            Expect("probabilities", "ensemble_predict(models, X)", rtol=PROBA_RTOL, atol=1e-7,
                   hint="torch.stack([predict(m, X) for m in models]).mean(dim=0)"),
        ),
        hint="Use make_net, train_model and predict; average probabilities.",
        timeout=60,
    ),
    Item(id="regularization.comparison", points=0, manual=True),
)

EXERCISE = Exercise(
    stem="07_regularization",
    title="A regularization toolkit (PyTorch)",
    items=ITEMS,
    cases_module="nngrade.reference.regularization.cases",
    solution=SOLUTION,
    preamble=(
        "import copy\n"
        "import numpy as np\n"
        "import torch\n"
        "from torch import nn\n"
        "import torch.nn.functional as F\n"
    ),
    # torch._dynamo: a process's first torch optimizer imports it (0.95 s); the item runs
    # train, so the fork server loads it once instead of every sandbox
    preload=("numpy", "torch", "matplotlib.pyplot", "torch._dynamo"),
)
