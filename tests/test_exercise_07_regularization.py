"""Exercise 07 (a regularization toolkit): notebook, reference and checks agree, and judge well.

Sample submissions are the notebook filled by item id: answers written differently from the
reference get full marks; almost-right answers (biases penalized, a penalty cut from autograd,
a 1/2 in L2, predictions in train mode, a mode not restored, early stopping off by one epoch,
weights kept by reference, ties or NaN counted as improvements, one seed for every member,
logits averaged ...) lose exactly their item with a message that says what is off. The
notebook's own run is made cheaper in the samples (fewer epochs, a smaller test set, no
figures): no check of exercise 07 reads it. All samples, the reference and the blank notebook
are graded once, as one class (the ``graded`` fixture).
"""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
import torch

from nngrade.grader.grading import batch
from nngrade.grader.grading.grade import Grader
from nngrade.grader.grading.solution import blank_notebook
from nngrade.grader.report import ItemResult, SubmissionReport
from nngrade.reference import load_exercise
from nngrade.reference.regularization import cases
from nngrade.reference.regularization.checks import SEQUENCES
from nngrade.reference.regularization.solution import SOLUTION
from grading import assert_full_marks, assert_lost, given_source, items_of, notebook_with

EXERCISE = load_exercise("07_regularization")
# Given code that only the notebook's own run uses, made cheaper (substring replacements).
FAST_SETTINGS = {
    "n_epochs = 300": "n_epochs = 15",
    "make_blob_ring(2000, seed=2)": "make_blob_ring(100, seed=2)",
    "torch.linspace(-10, 10, 201)": "torch.linspace(-10, 10, 11)",
    "plt.show()": "plt.close('all')",  # no figure rendered
}


def _namespace(*markers: str) -> dict[str, Any]:
    """The preamble and the given cells that contain ``markers``, run here (figures off)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns: dict[str, Any] = {"plt": plt}
    exec(EXERCISE.preamble, ns)
    for marker in markers:
        exec(given_source(EXERCISE, marker).replace("plt.show()", "plt.close('all')"), ns)
    return ns


# --- the notebook, the reference and the grader's inputs --------------------------------------

def test_notebook_given_code_is_what_the_grader_trains_with() -> None:
    ns = _namespace("def make_blob_ring", "def make_net")
    for n, seed in ((60, 0), (7, 31), (1, 5)):
        for ours, theirs in zip(ns["make_blob_ring"](n, seed), cases.make_blob_ring(n, seed)):
            assert torch.equal(ours, theirs)
    X, y = cases.make_blob_ring(30, 4)
    for seed in (0, 3):
        a, b = ns["make_net"](seed), cases.make_net(seed)
        assert ns["train_model"](a, X, y, 5) == cases.train_model(b, X, y, 5)
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.equal(p, q)


def test_data_overlap_is_what_the_notebook_says() -> None:
    X, y = cases.make_blob_ring(2000, 2)
    assert X.shape == (2000, 2) and X.dtype == torch.float32 and float(y.mean()) == 0.5
    radius = X.norm(dim=1)
    assert float(radius[y == 0].mean()) < 1.5 < 4.5 < float(radius[y == 1].mean())


def test_sequence_cases_pin_the_stated_boundaries() -> None:
    """The hidden sequences hold the rule's boundary values: a tie exactly min_delta below the
    best, a plateau, patience 0, an improvement on the last epoch, NaN, a decreasing loss."""
    hidden = {describe: (patience, min_delta, losses)
              for describe, is_hidden, patience, min_delta, losses in SEQUENCES if is_hidden}
    tie = next(v for k, v in hidden.items() if "exactly min_delta" in k)
    assert tie[2][1] - tie[1] == tie[2][2]  # 1.0 - 0.25 == 0.75 exactly
    assert any(v[0] == 0 for v in hidden.values())
    assert any(None in v[2] for v in hidden.values())
    assert any(list(v[2]) == sorted(v[2], reverse=True) and len(set(v[2])) == len(v[2])
               for v in hidden.values() if None not in v[2])


def test_reference_penalties_are_sums_over_linear_weights_on_every_probe_model() -> None:
    ns = _namespace()
    exec(SOLUTION["regularization.penalties"], ns)
    for kind in ("notebook", "deep", "branchy", "no_weights"):
        model = cases._penalty_model(kind, 0)
        weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
        assert ns["l1_penalty"](model).item() == pytest.approx(
            sum(float(w.detach().abs().sum()) for w in weights), rel=1e-6, abs=0)
        assert ns["l2_penalty"](model).item() == pytest.approx(
            sum(float((w.detach() ** 2).sum()) for w in weights), rel=1e-6, abs=0)


def test_notebook_states_the_conventions_the_checks_pin() -> None:
    text = "\n".join(c.source for c in blank_notebook(EXERCISE.stem).cells
                     if c.cell_type == "markdown")
    for phrase in ("L2 penalty is the plain sum of squares", "no factor $\\tfrac12$",
                   "`loss < best_loss - min_delta`", "**greater than** `patience`",
                   "a NaN loss is never", "With `patience=0` the first epoch",
                   "leave the model in the mode it found it", "shape `(n,)` (also for a single row)",
                   "**mean of the members' probabilities**", "biases are not penalized"):
        assert phrase in text, phrase


# --- grading sample submissions ---------------------------------------------------------------

# One notebook of answers written differently from the reference, item by item.
CORRECT = {
    "regularization.penalties": (  # layers instead of names; a generator sum; norm squared
        "def l1_penalty(model):\n"
        "    return sum(p.abs().sum() for name, p in model.named_parameters()\n"
        "               if 'weight' in name)\n"
        "\n"
        "def l2_penalty(model):\n"
        "    total = 0\n"
        "    for layer in model.modules():\n"
        "        if isinstance(layer, nn.Linear):\n"
        "            total = total + torch.linalg.norm(layer.weight) ** 2\n"
        "    return total\n"
    ),
    "regularization.dropout": (  # an nn.Module subclass reusing one Dropout; train(False)
        "class DropoutNet(nn.Module):\n"
        "    def __init__(self, n_hidden, p):\n"
        "        super().__init__()\n"
        "        self.fc1 = nn.Linear(2, n_hidden)\n"
        "        self.fc2 = nn.Linear(n_hidden, n_hidden)\n"
        "        self.out = nn.Linear(n_hidden, 1)\n"
        "        self.drop = nn.Dropout(p)\n"
        "\n"
        "    def forward(self, x):\n"
        "        x = self.drop(F.relu(self.fc1(x)))\n"
        "        x = self.drop(F.relu(self.fc2(x)))\n"
        "        return self.out(x)\n"
        "\n"
        "def make_dropout_net(n_hidden, p):\n"
        "    return DropoutNet(n_hidden, p)\n"
        "\n"
        "def predict(model, X):\n"
        "    mode = model.training\n"
        "    model.train(False)\n"
        "    try:\n"
        "        with torch.inference_mode():\n"
        "            return torch.sigmoid(model(X)[:, 0])\n"
        "    finally:\n"
        "        model.train(mode)\n"
    ),
    "regularization.early_stopping": (  # a whole model copy; best - loss > min_delta
        "class EarlyStopping:\n"
        "    def __init__(self, patience=5, min_delta=0.0):\n"
        "        self.patience, self.min_delta = patience, min_delta\n"
        "        self.best_loss = float('inf')\n"
        "        self.wait = 0\n"
        "        self.best_model = None\n"
        "\n"
        "    def step(self, loss, model):\n"
        "        if self.best_loss - loss > self.min_delta:\n"
        "            self.best_loss = loss\n"
        "            self.best_model = copy.deepcopy(model)\n"
        "            self.wait = 0\n"
        "            return False\n"
        "        self.wait += 1\n"
        "        return self.wait >= self.patience + 1\n"
        "\n"
        "    def restore(self, model):\n"
        "        model.load_state_dict(self.best_model.state_dict())\n"
    ),
    "regularization.ensemble": (  # a comprehension over a helper; a sum over a generator
        "def _trained(seed, X, y, n_epochs):\n"
        "    net = make_net(seed)\n"
        "    train_model(net, X, y, n_epochs)\n"
        "    return net\n"
        "\n"
        "def train_ensemble(seeds, X, y, n_epochs):\n"
        "    return [_trained(s, X, y, n_epochs) for s in seeds]\n"
        "\n"
        "def ensemble_predict(models, X):\n"
        "    return sum(predict(m, X) for m in models) / len(models)\n"
    ),
}

# More right-but-different answers, item by item.
CORRECT_MORE = {
    "regularization.penalties": (  # parameters with two or more dimensions; torch.stack
        "def _matrices(model):\n"
        "    return [p for p in model.parameters() if p.dim() >= 2]\n"
        "\n"
        "def l1_penalty(model):\n"
        "    mats = _matrices(model)\n"
        "    if not mats:\n"
        "        return torch.tensor(0.0)\n"
        "    return torch.stack([m.abs().sum() for m in mats]).sum()\n"
        "\n"
        "def l2_penalty(model):\n"
        "    return sum((m * m).sum() for m in _matrices(model))\n"
    ),
    "regularization.dropout": (  # layers from a loop; reshape(-1); squeeze(-1)
        "def make_dropout_net(n_hidden, p):\n"
        "    layers, width = [], 2\n"
        "    for _ in range(2):\n"
        "        layers += [nn.Linear(width, n_hidden), nn.ReLU(), nn.Dropout(p=p)]\n"
        "        width = n_hidden\n"
        "    return nn.Sequential(*layers, nn.Linear(width, 1))\n"
        "\n"
        "def predict(model, X):\n"
        "    was_training = model.training\n"
        "    model.eval()\n"
        "    with torch.no_grad():\n"
        "        logits = model(X).squeeze(-1)\n"
        "    if was_training:\n"
        "        model.train()\n"
        "    return torch.sigmoid(logits)\n"
    ),
    "regularization.early_stopping": (  # cloned tensors; counter compared with >
        "class EarlyStopping:\n"
        "    def __init__(self, patience=5, min_delta=0.0):\n"
        "        self.patience = patience\n"
        "        self.min_delta = min_delta\n"
        "        self.best_loss = np.inf\n"
        "        self.counter = 0\n"
        "        self.saved = {}\n"
        "\n"
        "    def step(self, loss, model):\n"
        "        improved = loss < self.best_loss - self.min_delta\n"
        "        if improved:\n"
        "            self.best_loss = loss\n"
        "            self.saved = {k: v.detach().clone() for k, v in model.state_dict().items()}\n"
        "        self.counter = 0 if improved else self.counter + 1\n"
        "        return self.counter > self.patience\n"
        "\n"
        "    def restore(self, model):\n"
        "        with torch.no_grad():\n"
        "            for k, v in model.state_dict().items():\n"
        "                v.copy_(self.saved[k])\n"
    ),
    "regularization.ensemble": (  # build all first, then train; torch.mean over a stack
        "def train_ensemble(seeds, X, y, n_epochs):\n"
        "    models = [make_net(seed) for seed in seeds]\n"
        "    for model in models:\n"
        "        train_model(model, X, y, n_epochs)\n"
        "    return models\n"
        "\n"
        "def ensemble_predict(models, X):\n"
        "    return torch.mean(torch.stack([predict(m, X) for m in models], dim=1), dim=1)\n"
    ),
}

# Almost-right answers, spread over notebooks: each item is graded on the grader's own inputs,
# so one notebook can hold one wrong answer per item.
WRONG_A = {
    "regularization.penalties": (  # every parameter, biases included
        "def l1_penalty(model):\n"
        "    return sum(p.abs().sum() for p in model.parameters())\n"
        "\n"
        "def l2_penalty(model):\n"
        "    return sum((p ** 2).sum() for p in model.parameters())\n"
    ),
    "regularization.dropout": (  # no eval(): torch.no_grad() leaves dropout on
        SOLUTION["regularization.dropout"].split("def predict")[0]
        + "def predict(model, X):\n"
          "    with torch.no_grad():\n"
          "        return torch.sigmoid(model(X)).reshape(-1)\n"
    ),
    "regularization.early_stopping": (  # stops one epoch early: >= patience
        SOLUTION["regularization.early_stopping"].replace(
            "return self.bad_epochs > self.patience", "return self.bad_epochs >= self.patience")
    ),
    "regularization.ensemble": (  # every member from the same seed
        SOLUTION["regularization.ensemble"].replace("make_net(seed)", "make_net(0)")
    ),
}

WRONG_B = {
    "regularization.penalties": (  # Python floats: no gradient
        "def l1_penalty(model):\n"
        "    return sum(p.abs().sum().item() for n, p in model.named_parameters()\n"
        "               if n.endswith('weight'))\n"
        "\n"
        "def l2_penalty(model):\n"
        "    return sum((p ** 2).sum().item() for n, p in model.named_parameters()\n"
        "               if n.endswith('weight'))\n"
    ),
    "regularization.dropout": (  # eval() and never back to train mode
        SOLUTION["regularization.dropout"].replace("    model.train(was_training)\n", "")
    ),
    "regularization.early_stopping": (  # the live state_dict kept: it follows the training
        SOLUTION["regularization.early_stopping"].replace(
            "copy.deepcopy(model.state_dict())", "model.state_dict()")
    ),
    "regularization.ensemble": (  # the mean of the logits
        SOLUTION["regularization.ensemble"].split("def ensemble_predict")[0]
        + "def ensemble_predict(models, X):\n"
          "    with torch.no_grad():\n"
          "        logits = torch.stack([m.eval()(X).reshape(-1) for m in models])\n"
          "    return torch.sigmoid(logits.mean(dim=0))\n"
    ),
}

WRONG_C = {
    "regularization.penalties": (  # L2 with the 1/2 of the textbooks
        SOLUTION["regularization.penalties"].replace(
            "total = total + (p ** 2).sum()", "total = total + 0.5 * (p ** 2).sum()")
    ),
    "regularization.dropout": (  # always back to train mode, whatever the mode was
        SOLUTION["regularization.dropout"].replace("model.train(was_training)", "model.train()")
    ),
    "regularization.early_stopping": (  # ties count as improvements: <=
        SOLUTION["regularization.early_stopping"].replace(
            "if loss < self.best_loss - self.min_delta:",
            "if loss <= self.best_loss - self.min_delta:")
    ),
    "regularization.ensemble": (  # a vote of the members' labels
        SOLUTION["regularization.ensemble"].split("def ensemble_predict")[0]
        + "def ensemble_predict(models, X):\n"
          "    votes = torch.stack([(predict(m, X) > 0.5).float() for m in models])\n"
          "    return (votes.mean(dim=0) > 0.5).float()\n"
    ),
}

WRONG_D = {
    "regularization.penalties": (  # torch.cat of no weights at all fails
        "def l1_penalty(model):\n"
        "    weights = [p.reshape(-1) for n, p in model.named_parameters() if n.endswith('weight')]\n"
        "    return torch.cat(weights).abs().sum()\n"
        "\n"
        "def l2_penalty(model):\n"
        "    weights = [p.reshape(-1) for n, p in model.named_parameters() if n.endswith('weight')]\n"
        "    return (torch.cat(weights) ** 2).sum()\n"
    ),
    "regularization.dropout": (  # scaled by (1 - p) once more at prediction time
        SOLUTION["regularization.dropout"].replace(
            "proba = torch.sigmoid(model(X)).reshape(-1)",
            "p = [m.p for m in model.modules() if isinstance(m, nn.Dropout)][0]\n"
            "        proba = torch.sigmoid(model(X) * (1 - p)).reshape(-1)")
    ),
    "regularization.early_stopping": (  # NaN counted as an improvement
        SOLUTION["regularization.early_stopping"].replace(
            "if loss < self.best_loss - self.min_delta:  # False for NaN",
            "if not loss >= self.best_loss - self.min_delta:")
    ),
    "regularization.ensemble": (  # one network trained n_epochs for every member in turn
        "def train_ensemble(seeds, X, y, n_epochs):\n"
        "    models = []\n"
        "    for seed in seeds:\n"
        "        torch.manual_seed(seed)\n"
        "        models.append(make_net(seed))\n"
        "    return models\n"
        "\n" + SOLUTION["regularization.ensemble"].split("\n\n\n")[1]
    ),
}

WRONG_E = {
    "regularization.penalties": (  # the norm of all the weights, not its square
        SOLUTION["regularization.penalties"].split("def l2_penalty")[0]
        + "def l2_penalty(model):\n"
          "    flat = torch.cat([p.reshape(-1) for n, p in model.named_parameters()\n"
          "                      if n.endswith('weight')])\n"
          "    return torch.linalg.vector_norm(flat)\n"
    ),
    "regularization.dropout": (  # squeeze(): a single row gives a 0-d tensor
        SOLUTION["regularization.dropout"].replace(".reshape(-1)", ".squeeze()")
    ),
    "regularization.early_stopping": (  # a restore that only rebinds a local name
        SOLUTION["regularization.early_stopping"]
        .replace("copy.deepcopy(model.state_dict())", "copy.deepcopy(model)")
        .replace("model.load_state_dict(self.best_state)", "model = self.best_state")
    ),
    "regularization.ensemble": (  # only the first two members averaged
        SOLUTION["regularization.ensemble"].replace(
            "for model in models]).mean(dim=0)", "for model in models[:2]]).mean(dim=0)")
    ),
}


# name -> (answers, the other graded cells): the reference itself, the blank notebook, and
# the sample submissions above
SAMPLES = {"reference": ({}, "reference"), "blank": ({}, "blank"),
           **{name: (answers, "reference") for name, answers in (
               ("correct", CORRECT), ("more", CORRECT_MORE), ("a", WRONG_A), ("b", WRONG_B),
               ("c", WRONG_C), ("d", WRONG_D), ("e", WRONG_E))}}


@pytest.fixture(scope="module")
def graded(grader: Grader, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, SubmissionReport]:
    """Every sample notebook, graded as a class, three at a time: most of a sample's cost is
    its own run in a kernel (start-up and imports), and three kernels overlap well."""
    folder = tmp_path_factory.mktemp("samples")
    paths = {}
    for name, (answers, rest) in SAMPLES.items():
        paths[name] = folder / name / f"{EXERCISE.stem}.ipynb"
        paths[name].parent.mkdir()
        # the notebook's own run at its full settings is nngrade validate's (it runs clean)
        nbformat.write(notebook_with(EXERCISE, answers, rest=rest, given=FAST_SETTINGS),
                       str(paths[name]))
    report = batch.grade_all([batch.Target(p, n) for n, p in paths.items()], jobs=3,
                             grader=grader)
    return dict(zip(paths, report.submissions))


@pytest.fixture(scope="module")
def wrong(graded: dict[str, SubmissionReport]) -> dict[str, dict[str, ItemResult]]:
    return {name: items_of(graded[name]) for name in "abcde"}


def test_reference_gets_full_marks_and_blank_gets_zero(graded) -> None:
    assert_full_marks(graded["reference"], EXERCISE)
    blank = graded["blank"]
    assert not blank.errors and blank.score == 0
    assert {i.status for i in blank.items} == {"failed", "manual"}


def test_answers_written_differently_get_full_marks(graded) -> None:
    assert_full_marks(graded["correct"], EXERCISE)
    assert_full_marks(graded["more"], EXERCISE)


def test_penalties_with_biases_lose_the_item(wrong) -> None:
    assert_lost(wrong["a"]["regularization.penalties"], "only the biases change",
                "expected no, found yes")


def test_penalties_cut_from_autograd_lose_the_item(wrong) -> None:
    assert_lost(wrong["b"]["regularization.penalties"], "autograd can differentiate",
                "expected yes, found no")
    assert ".item()" in wrong["b"]["regularization.penalties"].hint


def test_l2_with_a_half_or_a_root_is_named(wrong) -> None:
    assert_lost(wrong["c"]["regularization.penalties"], "quantity l2_penalty",
                "found half the sum of squares")
    assert_lost(wrong["e"]["regularization.penalties"], "quantity l2_penalty",
                "found the norm: the square root")


def test_penalty_that_fails_without_weight_matrices_loses_on_the_hidden_case(wrong) -> None:
    assert_lost(wrong["d"]["regularization.penalties"], "hidden case", "without any weight",
                "l1_penalty(model) raised", "torch.cat")


def test_predict_without_eval_loses_the_item_because_it_changes_between_calls(wrong) -> None:
    assert_lost(wrong["a"]["regularization.dropout"], "same probabilities on two calls",
                "change from call to call", "expected yes, found no")
    assert "model.eval()" in wrong["a"]["regularization.dropout"].hint


def test_predict_that_leaves_the_mode_changed_loses_the_item(wrong) -> None:
    assert_lost(wrong["b"]["regularization.dropout"], "was in train mode",
                "expected train, found eval")
    assert_lost(wrong["c"]["regularization.dropout"], "was in eval mode",
                "expected eval, found train")


def test_predict_that_scales_again_or_squeezes_a_single_row_loses_the_item(wrong) -> None:
    assert_lost(wrong["d"]["regularization.dropout"], "eval-mode ones",
                "without dropout", "expected yes, found no")
    assert_lost(wrong["e"]["regularization.dropout"], "hidden case", "single row",
                "shape of predict")


def test_early_stopping_one_epoch_early_loses_the_item(wrong) -> None:
    assert_lost(wrong["a"]["regularization.early_stopping"], "first returned true",
                "expected 6, found 5")


def test_early_stopping_keeping_the_live_state_dict_restores_nothing(wrong) -> None:
    assert_lost(wrong["b"]["regularization.early_stopping"], "weights restore(model) put back",
                "expected 3, found the weights it had just before restore")
    assert "deepcopy" in wrong["b"]["regularization.early_stopping"].hint


def test_early_stopping_boundaries_catch_ties_nan_and_a_restore_that_does_nothing(wrong) -> None:
    assert_lost(wrong["c"]["regularization.early_stopping"], "hidden case", "plateau",
                "found never")
    assert_lost(wrong["d"]["regularization.early_stopping"], "hidden case", "nan losses")
    # restore(model) that rebinds a local name changes nothing
    assert_lost(wrong["e"]["regularization.early_stopping"], "weights restore(model) put back",
                "expected 3, found the weights it had just before restore")


def test_ensemble_of_one_seed_loses_the_item(wrong) -> None:
    assert_lost(wrong["a"]["regularization.ensemble"], "members differ",
                "expected yes, found no")


def test_ensemble_of_logits_or_votes_loses_the_item(wrong) -> None:
    assert_lost(wrong["b"]["regularization.ensemble"], "ensemble's held-out cross-entropy",
                "expected")
    assert_lost(wrong["c"]["regularization.ensemble"], "at most the mean of its members'",
                "expected yes, found no")


def test_ensemble_of_untrained_members_loses_the_item(wrong) -> None:
    assert_lost(wrong["d"]["regularization.ensemble"], "held-out cross-entropy of each member")


def test_ensemble_averaging_only_some_members_loses_the_item(wrong) -> None:
    assert_lost(wrong["e"]["regularization.ensemble"], "at most the mean of its members'")


def test_almost_right_answers_cost_only_their_own_items(wrong) -> None:
    for items in wrong.values():
        assert items["regularization.comparison"].status == "manual"
        assert all(r.status in ("failed", "error") for k, r in items.items()
                   if k != "regularization.comparison"), items
