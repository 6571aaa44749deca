"""Exercise 03 (weight penalization): notebook, reference and checks agree, and judge well.

Sample submissions are the blank notebook filled by item id: answers written differently from
the reference get full marks; the almost-right answers of EXERCISES.md §03 and the issue lose
their item with a message that names what is off. The notebook's expensive given settings
(the alpha sweep's ``max_iter`` and ``alphas``, the PyTorch demo's epochs) are lowered in the
sample submissions: no check of exercise 03 reads the notebook's own run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nngrade.grader.grading.grade import Grader
from nngrade.grader.report import ItemResult
from nngrade.grader.grading.solution import blank_notebook
from nngrade.reference import load_exercise
from nngrade.reference.early_stopping import cases as early_stopping_cases
from nngrade.reference.weights import cases
from nngrade.reference.weights.checks import NOTEBOOK, SMALL_NET_FACTOR
from nngrade.reference.weights.solution import SOLUTION
from grading import assert_full_marks, assert_lost, given_source, grade_answers, items_of

EXERCISE = load_exercise("03_weight_penalization")
# Given code that only the notebook's own run uses, made cheaper (substring replacements).
FAST_SETTINGS = {
    "alphas = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]": "alphas = [1e-4, 1e-2]",
    "max_iter = 20000": "max_iter = 300",
    "for epoch in range(3000):": "for epoch in range(20):",
}


def _markdown() -> str:
    return "\n".join(c.source for c in blank_notebook(EXERCISE.stem).cells
                     if c.cell_type == "markdown")


# --- the notebook, the reference and the grader's inputs --------------------------------------

def test_notebook_data_is_exercise_02_data_and_what_the_grader_uses() -> None:
    ns: dict[str, Any] = {"np": np}
    exec(given_source(EXERCISE, "default_rng(data_seed)"), ns)
    assert (ns["data_seed"], ns["random_state"]) == (NOTEBOOK["seed"], NOTEBOOK["random_state"])
    for seed, n_train in ((NOTEBOOK["seed"], 10), (11, 10), (12, 15)):
        ours, theirs = cases.make_data(seed, n_train), early_stopping_cases.make_data(seed, n_train)
        for name in ours:
            np.testing.assert_array_equal(ours[name], theirs[name])
    for name, value in cases.make_data(NOTEBOOK["seed"]).items():
        np.testing.assert_array_equal(ns[name], value, err_msg=name)


def test_reference_gd_component_is_gradient_descent_on_a_non_diagonal_quadratic() -> None:
    ns: dict[str, Any] = {"np": np}
    exec(SOLUTION["weights.gd_component"], ns)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    hessian = a @ a.T + 0.1 * np.eye(4)
    lam = 1.0 / np.linalg.eigvalsh(hessian).max()  # every mu * lam in (0, 1]
    w_star = rng.normal(size=4)
    w = np.zeros(4)
    for _ in range(23):
        w = w - lam * hessian @ (w - w_star)
    mus, q = np.linalg.eigh(hessian)
    np.testing.assert_allclose(ns["gd_component"](23, mus, lam, q.T @ w_star), q.T @ w,
                               rtol=1e-10, atol=1e-12)


def test_reference_l1_penalty_sums_weights_only_on_every_probe_model() -> None:
    ns: dict[str, Any] = {}
    exec("import torch\n" + SOLUTION["weights.l1_penalty"], ns)
    for kind in ("notebook", "deep", "branchy", "single"):
        model = cases._model(kind, 0)
        weights = [m.weight for m in model.modules() if isinstance(m, cases.nn.Linear)]
        expected = sum(float(w.detach().abs().sum()) for w in weights)
        assert float(ns["l1_penalty"](model).detach()) == pytest.approx(expected, rel=1e-6)


def test_count_rule_probe_tells_the_threshold_rules_apart() -> None:
    values = np.array(cases.RULE_PROBE)
    counts = {
        int(np.sum(values > 0.1 * values.max())),
        int(np.sum(values >= 0.1 * values.max())),
        int(np.sum(values > 0.1 * values.mean())),
        int(np.sum(values <= 0.1 * values.max())),
    }
    assert counts == set(cases.RULES)


# --- grading sample submissions ---------------------------------------------------------------

def test_target_numbers_in_the_notebook_are_the_reference_figures(grader: Grader) -> None:
    reference = grader.reference(EXERCISE)
    small_case = EXERCISE.item("weights.small_net").cases[0]
    small_mse = reference.cases[("weights.small_net", 0)]["test_mse"]
    text = _markdown()
    bound = re.search(r"at most \*\*([0-9.]+)\*\*", text)
    assert bound and float(bound.group(1)) == round(SMALL_NET_FACTOR * small_mse, 3)
    assert f"reference\nsmall network reaches {small_mse:.4f}" in text
    assert f"`n_significant =\n{small_case.args['n_significant']}`" in text
    assert f"You should find {small_case.args['n_significant']}." in text


RECIPE = 'hidden_layer_sizes=(20,), activation="tanh", tol=1e-7'

# One notebook of answers written differently from the reference, item by item.
CORRECT = {
    "weights.gd_component": (  # the steps themselves instead of the closed form
        "def gd_component(n, mu, lam, w_star):\n"
        "    w = np.zeros_like(np.asarray(w_star, dtype=float))\n"
        "    for _ in range(n):\n"
        "        w = w - lam * mu * (w - w_star)\n"
        "    return w\n"
    ),
    "weights.alpha_sweep": (  # a list comprehension over a helper
        "def test_error(alpha):\n"
        f"    model = MLPRegressor({RECIPE}, max_iter=max_iter,\n"
        "                         random_state=random_state, alpha=alpha)\n"
        "    return mean_squared_error(y_test, model.fit(x_train, y_train).predict(x_test))\n"
        "\n"
        "test_mse_by_alpha = [test_error(a) for a in alphas]\n"
    ),
    "weights.best_alpha": (
        "best_index = min(range(len(alphas)), key=lambda i: test_mse_by_alpha[i])\n"
        "best_alpha = alphas[best_index]\n"
    ),
    "weights.magnitudes": (  # another flattening order, and the last layer by index -1
        "hidden_magnitudes = np.abs(best_reg.coefs_[0].T).flatten()\n"
        "output_magnitudes = np.abs(best_reg.coefs_[-1][:, 0])\n"
    ),
    "weights.count_significant": (
        "def count_significant(magnitudes, rel_threshold=0.1):\n"
        "    threshold = rel_threshold * max(magnitudes)\n"
        "    return len([m for m in magnitudes if m > threshold])\n"
    ),
    "weights.small_net": (  # no penalty at all: still within the bound
        "small_reg = MLPRegressor(hidden_layer_sizes=[n_significant], activation='tanh',\n"
        "                         tol=1e-7, max_iter=max_iter, random_state=random_state,\n"
        "                         alpha=0.0).fit(x_train, y_train)\n"
        "small_test_mse = np.mean((small_reg.predict(x_test) - y_test) ** 2)\n"
    ),
    "weights.l1_penalty": (  # iterating modules instead of filtering named_parameters
        "def l1_penalty(model):\n"
        "    total = torch.zeros(())\n"
        "    for layer in model.modules():\n"
        "        if isinstance(layer, nn.Linear):\n"
        "            total = total + layer.weight.abs().sum()\n"
        "    return total\n"
    ),
}

# Almost-right answers (EXERCISES.md §03 and the issue), spread over notebooks: each item is
# graded on the grader's own inputs, so one notebook can hold several.
WRONG_A = {
    "weights.gd_component": (  # the distance left instead of the distance travelled
        "def gd_component(n, mu, lam, w_star):\n"
        "    return (1 - mu * lam) ** n * w_star\n"
    ),
    "weights.alpha_sweep": (  # one regressor, warm-started from the previous alpha
        f"reg = MLPRegressor({RECIPE}, max_iter=max_iter, random_state=random_state,\n"
        "                   warm_start=True)\n"
        "test_mse_by_alpha = []\n"
        "for alpha in alphas:\n"
        "    reg.set_params(alpha=alpha)\n"
        "    reg.fit(x_train, y_train)\n"
        "    test_mse_by_alpha.append(mean_squared_error(y_test, reg.predict(x_test)))\n"
    ),
    "weights.best_alpha": "best_alpha = int(np.argmin(test_mse_by_alpha))\n",
    "weights.magnitudes": (  # biases appended
        "hidden_magnitudes = np.abs(np.concatenate([best_reg.coefs_[0].ravel(),\n"
        "                                           best_reg.intercepts_[0]]))\n"
        "output_magnitudes = np.abs(np.concatenate([best_reg.coefs_[1].ravel(),\n"
        "                                           best_reg.intercepts_[1]]))\n"
    ),
    "weights.count_significant": (  # >= instead of >
        "def count_significant(magnitudes, rel_threshold=0.1):\n"
        "    magnitudes = np.asarray(magnitudes)\n"
        "    return int(np.sum(magnitudes >= rel_threshold * magnitudes.max()))\n"
    ),
    "weights.small_net": (  # the hidden layer left at 20 units
        f"small_reg = MLPRegressor({RECIPE}, max_iter=max_iter, random_state=random_state)\n"
        "small_reg.fit(x_train, y_train)\n"
        "small_test_mse = mean_squared_error(y_test, small_reg.predict(x_test))\n"
    ),
    "weights.l1_penalty": (  # every parameter, biases included
        "def l1_penalty(model):\n"
        "    return sum(p.abs().sum() for p in model.parameters())\n"
    ),
}

WRONG_B = {
    "weights.gd_component": (  # scalar maths: fails on arrays of directions
        "import math\n"
        "\n"
        "def gd_component(n, mu, lam, w_star):\n"
        "    return (1 - math.pow(1 - mu * lam, n)) * w_star\n"
    ),
    "weights.alpha_sweep": (  # a new regressor per alpha, but alpha never passed
        "test_mse_by_alpha = []\n"
        "for alpha in alphas:\n"
        f"    reg = MLPRegressor({RECIPE}, max_iter=max_iter, random_state=random_state)\n"
        "    reg.fit(x_train, y_train)\n"
        "    test_mse_by_alpha.append(mean_squared_error(y_test, reg.predict(x_test)))\n"
    ),
    "weights.best_alpha": "best_alpha = min(test_mse_by_alpha)\n",
    "weights.magnitudes": (  # signed weights
        "hidden_magnitudes = best_reg.coefs_[0].ravel()\n"
        "output_magnitudes = best_reg.coefs_[1].ravel()\n"
    ),
    "weights.count_significant": (  # relative to the mean instead of the largest
        "def count_significant(magnitudes, rel_threshold=0.1):\n"
        "    magnitudes = np.asarray(magnitudes)\n"
        "    return int(np.sum(magnitudes > rel_threshold * magnitudes.mean()))\n"
    ),
    "weights.small_net": (  # the error measured on the training set
        "small_reg = MLPRegressor(hidden_layer_sizes=(n_significant,), activation='tanh',\n"
        "                         tol=1e-7, max_iter=max_iter, random_state=random_state)\n"
        "small_reg.fit(x_train, y_train)\n"
        "small_test_mse = mean_squared_error(y_train, small_reg.predict(x_train))\n"
    ),
    "weights.l1_penalty": (  # a Python float: cannot be back-propagated
        "def l1_penalty(model):\n"
        "    return sum(p.abs().sum().item() for name, p in model.named_parameters()\n"
        "               if 'weight' in name)\n"
    ),
}


@pytest.fixture(scope="module")
def wrong_a(grader: Grader, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ItemResult]:
    return items_of(grade_answers(
        grader, EXERCISE, tmp_path_factory.mktemp("wrong_a"), WRONG_A, given=FAST_SETTINGS))


@pytest.fixture(scope="module")
def wrong_b(grader: Grader, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ItemResult]:
    return items_of(grade_answers(
        grader, EXERCISE, tmp_path_factory.mktemp("wrong_b"), WRONG_B, given=FAST_SETTINGS))


def test_answers_written_differently_get_full_marks(grader: Grader, tmp_path: Path) -> None:
    assert_full_marks(grade_answers(grader, EXERCISE, tmp_path, CORRECT, given=FAST_SETTINGS),
                      EXERCISE)


def test_gd_component_without_the_one_minus_loses_the_item(
        wrong_a: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["weights.gd_component"], "first input")


def test_gd_component_for_scalars_only_loses_the_item(wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_b["weights.gd_component"], "raised TypeError")


def test_sweep_reusing_one_warm_started_regressor_loses_the_item(
        wrong_a: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["weights.alpha_sweep"], "fresh random weights", "expected 3, found 1")


def test_sweep_that_never_passes_alpha_loses_the_item(wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_b["weights.alpha_sweep"], "test_mse_by_alpha")


def test_best_alpha_given_as_a_position_or_an_error_loses_the_item(
        wrong_a: dict[str, ItemResult], wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["weights.best_alpha"], "position in alphas")
    assert_lost(wrong_b["weights.best_alpha"], "best_alpha: expected 0.01")


def test_magnitudes_with_biases_or_signs_lose_the_item(
        wrong_a: dict[str, ItemResult], wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["weights.magnitudes"], "shape of hidden_magnitudes", "expected (20)")
    assert_lost(wrong_b["weights.magnitudes"], "negative values")


def test_count_significant_with_at_or_above_loses_the_item(
        wrong_a: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["weights.count_significant"], ">= instead of >")


def test_count_significant_relative_to_the_mean_loses_the_item(
        wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_b["weights.count_significant"], "the mean, not the largest")


def test_small_net_with_the_full_hidden_layer_or_a_training_error_loses_the_item(
        wrong_a: dict[str, ItemResult], wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["weights.small_net"], "hidden layer sizes", "expected (4), found (20)")
    assert_lost(wrong_b["weights.small_net"], "small_test_mse is small_reg's test mse")


def test_l1_penalty_with_biases_loses_the_item(wrong_a: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["weights.l1_penalty"], "only the biases change", "expected no, found yes")


def test_l1_penalty_as_a_python_float_loses_the_item(wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_b["weights.l1_penalty"], "autograd")


# --- boundaries the notebook's convention fixes ------------------------------------------------

# best_alpha: "if several tie, the first" (a loop on <= keeps the last); l1_penalty: "nested or
# not", so the module may be a single nn.Linear, whose parameters are named weight and bias
# (no dot before "weight").
BOUNDARIES = {
    "weights.best_alpha": (
        "best_alpha, lowest = None, float('inf')\n"
        "for alpha, error in zip(alphas, test_mse_by_alpha):\n"
        "    if error <= lowest:\n"
        "        best_alpha, lowest = alpha, error\n"
    ),
    "weights.l1_penalty": (
        "def l1_penalty(model):\n"
        "    return sum(p.abs().sum() for name, p in model.named_parameters()\n"
        "               if '.weight' in name)\n"
    ),
}


def test_hidden_cases_hold_a_tie_for_the_best_alpha_and_a_bare_linear_layer() -> None:
    choices = [dict(case.args) for case in EXERCISE.item("weights.best_alpha").cases
               if case.hidden]
    assert any(sorted(c["errors"]).count(min(c["errors"])) > 1 for c in choices)
    kinds = [case.args["kind"] for case in EXERCISE.item("weights.l1_penalty").cases]
    assert "single" in kinds
    assert isinstance(cases._model("single", 0), cases.nn.Linear)


def test_later_tie_for_best_alpha_and_l1_missing_a_bare_layer_lose_their_items(
        grader: Grader, tmp_path: Path) -> None:
    # the other graded cells stay blank: they cost no sandbox run
    items = items_of(grade_answers(grader, EXERCISE, tmp_path, BOUNDARIES, rest="blank",
                                   given=FAST_SETTINGS))
    best = items["weights.best_alpha"]
    assert_lost(best, "on a hidden case (three alphas that tie for the lowest error)",
                "a later alpha of a tie", "found yes")
    assert "take the first" in best.hint
    assert_lost(items["weights.l1_penalty"], "on a hidden case (a single nn.Linear layer",
                "l1_penalty(model) is off")
    # the right answers of CORRECT keep the first tie (min over positions) and walk
    # model.modules(), which yields a bare layer itself
    assert "min(range(len(alphas))" in CORRECT["weights.best_alpha"]
    assert "model.modules()" in CORRECT["weights.l1_penalty"]
