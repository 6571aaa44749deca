"""The check declaration of exercise 08: items, points, inputs, hidden cases, tolerances.

Expected values are never written here: every comparison is against what the reference cell
(``solution.py``) produces from the same inputs, through the same sandbox.

Tolerances, from measured spread. The linear fit: float32 ``torch.linalg.lstsq``, float32
normal equations and scikit-learn (float32 in) differ from the float64 reference by at most
1.4e-6 relative on the coefficients, 3.3e-6 absolute on the residuals and 1.1e-6 relative on
the held-out MSE, on the three cases: LINEAR_RTOL 1e-4, LINEAR_ATOL 1e-5. The residual
recipe: the reference, a hand-written mean with ``float(loss)`` and zero_grad first, and a
summed MSELoss divided by n give bit-identical losses and weights on every case, with 1 or 2
threads: TRAIN_RTOL 1e-5 is room, not need. Shares: a float32 mean is off by ~6e-8.

The fix's margin (``cases.MARGIN``, 0.6 of the linear floor): over three data sets x eight
initialisations, 500 epochs, correct fixes (the reference's LeakyReLU at lr 0.01, one layer
of 64 ReLU at lr 0.003, two of 32 ReLU at lr 0.01, with a linear output) end at 0.25-0.51 of
the floor (0.30-0.53 in a first 54-run sweep with lr 0.001-0.01); the output ReLU kept with
lr 0.001 ends at 0.70-1.0 and the broken training at exactly 1.0 (24 of 24 runs).

Cost. The reference's cases take about 20 s once per batch (machine load ~4); grading the
reference notebook takes about 11 s, of which its own run (two 500-epoch trainings of small
networks) is about 10 s through nbclient.
"""

from nngrade.grader.spec import Case, Exercise, Expect, Item, Trained
from nngrade.reference.dead_relus.cases import MARGIN, NOTEBOOK, STALL
from nngrade.reference.dead_relus.solution import SOLUTION

LINEAR_RTOL, LINEAR_ATOL = 1e-4, 1e-5
TRAIN_RTOL, TRAIN_ATOL = 1e-5, 1e-6
# a share computed as a float32 mean is off by up to ~6e-8 relative; two counts differ by at
# least 1/64 of a share here
SHARE_RTOL = 1e-6
# epochs of the fix cases: the notebook's own n_epochs
FIX_EPOCHS = 500

ITEMS = (
    Item(
        id="dead_relus.linear_floor",
        points=2,
        reads=("X_train", "y_train", "X_test", "y_test"),
        writes=("beta", "r_train", "r_test", "linear_test_mse"),
        cases=(
            Case("build_linear", "probe_linear", "the notebook's data", args=dict(NOTEBOOK)),
            Case("build_linear", "probe_linear", "150 training rows with 5 features",
                 hidden=True, args={"seed": 5, "n_train": 150, "n_test": 500,
                                    "n_features": 5}),
            Case("build_linear", "probe_linear", "12 training rows with 2 features",
                 hidden=True, args={"seed": 6, "n_train": 12, "n_test": 30,
                                    "n_features": 2}),
        ),
        expects=(
            Expect("beta_size", "the number of coefficients in beta", rule="equal",
                   hint="one intercept and one coefficient per feature: add a column of ones "
                        "to X (the inputs are not centred, so the intercept matters)"),
            Expect("beta", "beta, the intercept then one coefficient per feature",
                   rtol=LINEAR_RTOL, atol=LINEAR_ATOL,
                   hint="least squares on the training set only, intercept first"),
            Expect("residual_type", "the type of r_train and r_test", rule="equal",
                   hint="float32 tensors, like y_train: the training cells feed them to "
                        "nn.functional.mse_loss next to the network's float32 output"),
            Expect("r_train_shape", "the shape of r_train", rule="equal",
                   hint="keep the residuals as a column, shape (n, 1), like y_train"),
            Expect("r_test_shape", "the shape of r_test", rule="equal",
                   hint="keep the residuals as a column, shape (n, 1), like y_test"),
            Expect("r_train", "r_train, y_train minus the linear prediction",
                   rtol=LINEAR_RTOL, atol=LINEAR_ATOL),
            Expect("r_test", "r_test, y_test minus the linear prediction",
                   rtol=LINEAR_RTOL, atol=LINEAR_ATOL,
                   hint="the coefficients fitted on the training set, applied to X_test"),
            Expect("linear_test_mse", "linear_test_mse, the linear model's held-out MSE",
                   rtol=LINEAR_RTOL,
                   hint="the mean of r_test squared: measured on the held-out set"),
        ),
        hint="Least squares with an intercept: torch.linalg.lstsq or np.linalg.lstsq on "
             "[1, X_train].",
    ),
    Item(
        id="dead_relus.dead_fraction",
        points=3,
        writes=("dead_relu_fraction",),
        cases=(
            Case("build_nothing", "probe_dead_fraction",
                 "a 2-8-1 network with three dead units on 50 rows, and a 3-10-6-4-1 network "
                 "on 40 rows", args={"calls": [{"kind": "small", "seed": 1, "n": 50},
                                               {"kind": "deep", "seed": 2, "n": 40}]}),
            Case("build_nothing", "probe_dead_fraction",
                 "several hidden layers, a layer whose units are all dead, a ReLU after the "
                 "output unit", hidden=True,
                 args={"calls": [{"kind": "deep", "seed": 12, "n": 64},
                                 {"kind": "all_dead_layer", "seed": 13, "n": 30},
                                 {"kind": "output_relu", "seed": 14, "n": 25}]}),
            Case("build_nothing", "probe_dead_fraction",
                 "a single row of X, units whose pre-activation is exactly 0, tanh layers "
                 "between ReLU layers, a network without any nn.ReLU", hidden=True,
                 args={"calls": [{"kind": "small", "seed": 21, "n": 1},
                                 {"kind": "exact_zero", "seed": 22, "n": 20},
                                 {"kind": "mixed", "seed": 23, "n": 35},
                                 {"kind": "no_relu", "seed": 24, "n": 10}]}),
        ),
        expects=(
            Expect("rule", "the counting rule of dead_relu_fraction (read from a network "
                           "whose 7 ReLU units tell the usual rules apart)", rule="equal",
                   hint="a unit is dead when its output after nn.ReLU is exactly 0 (== 0) on "
                        "every row of X; divide the dead units of all ReLU layers by the "
                        "number of units of all ReLU layers"),
            Expect("shares", "the dead shares dead_relu_fraction returned", rtol=SHARE_RTOL,
                   hint="count every nn.ReLU layer of the Sequential, the one after the "
                        "output unit included, and nothing after other activations; a network "
                        "without nn.ReLU has share 0.0"),
        ),
        hint="Run X through the layers one by one (for layer in model) and look at the output "
             "of every nn.ReLU.",
    ),
    Item(
        id="dead_relus.residual_fit",
        points=2,
        writes=("train_residual_net",),
        cases=(
            Case("build_nothing", "probe_train", "a 2-8-1 ReLU network, 5 epochs, lr 0.01",
                 args={"seed": 1, "widths": [2, 8, 1], "acts": ["relu"], "n": 30,
                       "n_epochs": 5, "lr": 0.01}),
            Case("build_nothing", "probe_train",
                 "a 3-10-6-1 network with LeakyReLU and ReLU, 12 epochs, lr 0.05",
                 hidden=True, args={"seed": 2, "widths": [3, 10, 6, 1],
                                    "acts": ["leaky", "relu"], "n": 40, "n_epochs": 12,
                                    "lr": 0.05}),
            Case("build_nothing", "probe_train", "0 epochs", hidden=True,
                 args={"seed": 3, "widths": [2, 4, 1], "acts": ["relu"], "n": 10,
                       "n_epochs": 0, "lr": 0.01}),
            Case("build_nothing", "probe_train", "a single epoch with lr 0.2 on one feature",
                 hidden=True, args={"seed": 4, "widths": [1, 5, 1], "acts": ["relu"],
                                    "n": 17, "n_epochs": 1, "lr": 0.2}),
        ),
        expects=(
            Expect("n_losses", "the number of losses returned", rule="equal",
                   hint="one loss per epoch, n_epochs in all (none for 0 epochs)"),
            Expect("weights", "the model's weights after training", rtol=TRAIN_RTOL,
                   atol=TRAIN_ATOL,
                   hint="torch.optim.Adam(model.parameters(), lr=lr), then every epoch: the "
                        "loss, optimizer.zero_grad(), loss.backward(), optimizer.step()"),
            Expect("losses", "the losses returned", rtol=TRAIN_RTOL, atol=TRAIN_ATOL,
                   hint="record loss.item() of the full-batch MSE computed at the start of "
                        "each epoch, before the step"),
        ),
        hint="One Adam optimizer created in the function; one full-batch step per epoch.",
    ),
    Item(
        id="dead_relus.diagnosis",
        points=2,
        reads=("broken_model", "X_train", "r_train", "X_test", "r_test", "linear_test_mse",
               "dead_relu_fraction"),
        writes=("broken_dead_fraction", "broken_test_mse", "stalled"),
        cases=(
            Case("build_diagnosis", "probe_diagnosis",
                 "the notebook's broken network trained for 100 epochs",
                 args={"kind": "notebook", "seed": 0, "n_epochs": 100}),
            Case("build_diagnosis", "probe_diagnosis",
                 "a healthy network with dead units, some dead on the training rows only",
                 hidden=True, args={"kind": "fit", "seed": 31, "data_seed": 2, "dead": 10,
                                    "train_only_dead": 3}),
            Case("build_diagnosis", "probe_diagnosis",
                 "a network that removes only a small part of the floor", hidden=True,
                 args={"kind": "two_percent", "seed": 32, "data_seed": 1, "dead": 5}),
            Case("build_diagnosis", "probe_diagnosis",
                 "a network whose hidden units are all dead", hidden=True,
                 args={"kind": "constant", "seed": 33, "data_seed": 2}),
        ),
        expects=(
            Expect("broken_dead_fraction", "broken_dead_fraction", rtol=SHARE_RTOL,
                   hint="dead_relu_fraction(broken_model, X_train): on the training rows"),
            Expect("broken_test_mse", "broken_test_mse, the held-out MSE of the linear model "
                                      "plus the network", rtol=LINEAR_RTOL,
                   hint="the mean of (r_test - broken_model(X_test)) squared"),
            Expect("stalled", "stalled", rule="equal",
                   hint=f"stalled is True when broken_test_mse is above {STALL} times "
                        "linear_test_mse (the network removes less than 5% of the floor)"),
        ),
        hint="Three numbers from broken_model: its dead share, its held-out MSE, and the "
             "comparison with the floor.",
    ),
    Item(
        id="dead_relus.fix",
        points=2,
        reads=("X_train", "r_train", "n_epochs", "train_residual_net"),
        writes=("fixed_model",),
        cases=(
            Case("build_fix", "probe_fix",
                 f"your fix trained on the notebook's data for {FIX_EPOCHS} epochs",
                 args={"seed": NOTEBOOK["seed"], "n_epochs": FIX_EPOCHS}),
            Case("build_fix", "probe_fix", "your fix trained on other data of the same kind",
                 hidden=True, args={"seed": 1, "n_epochs": FIX_EPOCHS}),
        ),
        expects=(
            Expect("output_shape", "the shape of fixed_model(X_test)", rule="equal",
                   hint="one output per row: the last layer is nn.Linear(..., 1)"),
            Expect("beats_floor", f"whether the linear model plus fixed_model has a held-out "
                                  f"MSE at most {MARGIN} times the linear floor",
                   rule="equal",
                   hint="a ReLU on the output can never predict a negative residual: remove "
                        "it (a smaller learning rate alone does not help)"),
        ),
        # measured outside the student's kernel: the notebook's trained weights, loaded into
        # the network the fix cell builds (with 0 epochs), on the notebook's held-out set
        trained=Trained(module="fixed_model", cell="dead_relus.fix",
                        build="build_fix_rebuild", probe="probe_fix_trained"),
        state=(
            Expect("beats_floor", f"whether your trained fixed_model's held-out MSE (with the "
                                  f"linear model) is at most {MARGIN} times the linear floor",
                   rule="equal",
                   hint="run the fix cell for all n_epochs and do not retrain or change "
                        "fixed_model afterwards"),
        ),
        hint="Keep the recipe (train_residual_net, n_epochs); change the network.",
        timeout=60,
    ),
    Item(id="dead_relus.explanation", points=0, manual=True),
)

EXERCISE = Exercise(
    stem="08_dead_relus",
    title="When a network will not beat a straight line (dead ReLUs, PyTorch)",
    items=ITEMS,
    cases_module="nngrade.reference.dead_relus.cases",
    solution=SOLUTION,
    preamble=(
        "import numpy as np\n"
        "import matplotlib.pyplot as plt\n"
        "import torch\n"
        "from torch import nn\n"
    ),
    # torch._dynamo: a process's first torch optimizer imports it (0.95 s); the item runs
    # train, so the fork server loads it once instead of every sandbox
    preload=("numpy", "matplotlib.pyplot", "torch", "torch._dynamo"),
)
