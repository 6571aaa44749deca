"""Exercise 02 (early stopping): the notebook and the grader agree, and the checks judge well.

Sample submissions are the blank notebook filled by item id: answers written differently from
the reference get full marks; the almost-right answers of EXERCISES.md §02 and the issue lose
their item with a message that names what is off. The notebook's own expensive settings
(``max_iter = 20000``, ``n_steps = 3000``) are lowered in the sample submissions: no check of
exercise 02 reads the notebook's own run, so this only makes the tests fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from nngrade.grader.grading.grade import Grader
from nngrade.grader.report import ItemResult
from nngrade.grader.grading.solution import blank_notebook
from nngrade.reference import load_exercise
from nngrade.reference.early_stopping import cases
from nngrade.reference.early_stopping.checks import NOTEBOOK
from nngrade.reference.early_stopping.solution import SOLUTION
from grading import assert_full_marks, assert_lost, given_source, grade_answers, items_of

EXERCISE = load_exercise("02_early_stopping")
# Given cells whose values only the notebook's own run uses: smaller for speed.
FAST_SETTINGS = {"max_iter = 20000": "max_iter = 300", "n_steps = 3000": "n_steps = 120"}


# --- the notebook and the grader's inputs ----------------------------------------------------

def test_notebook_data_cell_draws_what_the_grader_calls_the_notebook_data() -> None:
    ns: dict[str, Any] = {"np": np}
    exec(given_source(EXERCISE, "default_rng(data_seed)"), ns)
    assert (ns["data_seed"], ns["random_state"]) == (NOTEBOOK["seed"], NOTEBOOK["random_state"])
    assert ns["noise_sigma"] == 0.2
    grader_data = cases.make_data(NOTEBOOK["seed"])
    for name, value in grader_data.items():
        np.testing.assert_array_equal(ns[name], value, err_msg=name)
    assert ns["x_train"].shape == (10, 1) and ns["x_test"].shape == (100, 1)


def test_notebook_names_every_expensive_setting_before_the_cells_that_read_it() -> None:
    sources = [(c.source, c.get("metadata", {}).get("nngrade", {}).get("item"))
               for c in blank_notebook(EXERCISE.stem).cells if c.cell_type == "code"]
    position = {item: i for i, (_, item) in enumerate(sources) if item}
    for setting, reader in (("max_iter = 20000", "early_stopping.fit"),
                            ("n_steps = 3000", "early_stopping.curve")):
        where = [i for i, (source, _) in enumerate(sources) if source.strip() == setting]
        assert where and where[0] < position[reader]
        assert setting.split(" =")[0] in EXERCISE.item(reader).reads


def test_hidden_cases_use_other_data_and_random_states_than_the_notebook() -> None:
    for item_id in ("early_stopping.fit", "early_stopping.curve", "early_stopping.refit"):
        hidden = [case.args for case in EXERCISE.item(item_id).cases if case.hidden]
        assert hidden, item_id
        for args in hidden:
            assert args["seed"] != NOTEBOOK["seed"], item_id
            assert args["random_state"] != NOTEBOOK["random_state"], item_id
    steps = {case.args["n_steps"] for case in EXERCISE.item("early_stopping.curve").cases}
    assert len(steps) == len(EXERCISE.item("early_stopping.curve").cases)


def test_refit_cell_shows_a_convergence_warning_in_a_real_kernel() -> None:
    """The warning the notebook asks about appears under the refit cell in Jupyter."""
    cells = [nbformat.v4.new_code_cell(s) for s in (
        "import numpy as np\n"
        "from sklearn.neural_network import MLPRegressor\n"
        "from sklearn.metrics import mean_squared_error\n",
        given_source(EXERCISE, "default_rng(data_seed)"),
        "best_n_iter = 40",
        SOLUTION["early_stopping.refit"],
    )]
    nb = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    streams = [out for out in nb.cells[-1].outputs if out.get("output_type") == "stream"]
    assert any(out["name"] == "stderr" and "ConvergenceWarning" in out["text"]
               for out in streams), nb.cells[-1].outputs


# --- grading sample submissions ---------------------------------------------------------------

RECIPE = 'hidden_layer_sizes=(20,), activation="tanh", tol=1e-7'

# One notebook of answers written differently from the reference, item by item.
CORRECT = {
    "early_stopping.fit": (
        "reg = MLPRegressor(random_state=random_state, max_iter=max_iter, tol=1e-7,\n"
        "                   activation='tanh', hidden_layer_sizes=[20]).fit(x_train, y_train)\n"
        "train_mse = np.mean((reg.predict(x_train) - y_train) ** 2)\n"
        "test_mse = float(np.mean((reg.predict(x_test) - y_test) ** 2))\n"
    ),
    "early_stopping.noise_floor": "best_possible_mse = noise_sigma * noise_sigma\n",
    "early_stopping.curve": (
        f"model = MLPRegressor({RECIPE}, random_state=random_state, max_iter=max_iter)\n"
        "train_errors = np.zeros(n_steps)\n"
        "test_errors = np.zeros(n_steps)\n"
        "step = 0\n"
        "while step < n_steps:\n"
        "    model.partial_fit(x_train, y_train)\n"
        "    train_errors[step] = np.mean((model.predict(x_train) - y_train) ** 2)\n"
        "    test_errors[step] = np.mean((model.predict(x_test) - y_test) ** 2)\n"
        "    step += 1\n"
        "train_errors, test_errors = list(train_errors), list(test_errors)\n"
    ),
    "early_stopping.best_iter": (  # a manual loop instead of np.argmin
        "best_n_iter, lowest = 1, test_errors[0]\n"
        "for step, error in enumerate(test_errors, start=1):\n"
        "    if error < lowest:\n"
        "        best_n_iter, lowest = step, error\n"
    ),
    "early_stopping.refit": (
        f"settings = dict({RECIPE}, random_state=random_state)\n"
        "reg_early = MLPRegressor(**settings, max_iter=best_n_iter)\n"
        "reg_early.fit(x_train, y_train)\n"
        "early_test_mse = mean_squared_error(y_true=y_test, y_pred=reg_early.predict(x_test))\n"
    ),
    "early_stopping.warning": (  # caught from a run instead of imported by name
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    MLPRegressor(max_iter=3, random_state=0).fit([[0.0], [1.0]], [0.0, 1.0])\n"
        "warning_category = caught[-1].category\n"
    ),
}

# Almost-right answers (EXERCISES.md §02 and the issue), spread over notebooks: each item is
# graded on the grader's own inputs, so one notebook can hold several.
WRONG_A = {
    "early_stopping.fit": (  # the root of the MSE
        f"reg = MLPRegressor({RECIPE}, max_iter=max_iter, random_state=random_state)\n"
        "reg.fit(x_train, y_train)\n"
        "train_mse = np.sqrt(mean_squared_error(y_train, reg.predict(x_train)))\n"
        "test_mse = np.sqrt(mean_squared_error(y_test, reg.predict(x_test)))\n"
    ),
    "early_stopping.noise_floor": "best_possible_mse = noise_sigma\n",
    "early_stopping.curve": (  # a new network trained from scratch for every step
        "train_errors, test_errors = [], []\n"
        "for step in range(1, n_steps + 1):\n"
        f"    model = MLPRegressor({RECIPE}, random_state=random_state, max_iter=step)\n"
        "    with warnings.catch_warnings():\n"
        "        warnings.simplefilter('ignore')\n"
        "        model.fit(x_train, y_train)\n"
        "    train_errors.append(mean_squared_error(y_train, model.predict(x_train)))\n"
        "    test_errors.append(mean_squared_error(y_test, model.predict(x_test)))\n"
    ),
    "early_stopping.best_iter": "best_n_iter = int(np.argmin(test_errors))\n",
    "early_stopping.refit": (  # the random state forgotten
        f"reg_early = MLPRegressor({RECIPE}, max_iter=best_n_iter)\n"
        "reg_early.fit(x_train, y_train)\n"
        "early_test_mse = mean_squared_error(y_test, reg_early.predict(x_test))\n"
    ),
    "early_stopping.warning": 'warning_category = "ConvergenceWarning"\n',
}

WRONG_B = {
    "early_stopping.fit": (  # the notebook's value typed in instead of the name max_iter
        f"reg = MLPRegressor({RECIPE}, max_iter=20000, random_state=random_state)\n"
        "reg.fit(x_train, y_train)\n"
        "train_mse = mean_squared_error(y_train, reg.predict(x_train))\n"
        "test_mse = mean_squared_error(y_test, reg.predict(x_test))\n"
    ),
    "early_stopping.noise_floor": "best_possible_mse = 0.04\n",
    "early_stopping.curve": (  # fit instead of partial_fit: every call starts again
        f"model = MLPRegressor({RECIPE}, random_state=random_state, max_iter=1)\n"
        "train_errors, test_errors = [], []\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n"
        "    for step in range(n_steps):\n"
        "        model.fit(x_train, y_train)\n"
        "        train_errors.append(mean_squared_error(y_train, model.predict(x_train)))\n"
        "        test_errors.append(mean_squared_error(y_test, model.predict(x_test)))\n"
    ),
    "early_stopping.best_iter": "best_n_iter = int(np.argmax(test_errors)) + 1\n",
    "early_stopping.refit": (  # the network trained to the end, not stopped early
        f"reg_early = MLPRegressor({RECIPE}, random_state=random_state, max_iter=max_iter)\n"
        "reg_early.fit(x_train, y_train)\n"
        "early_test_mse = mean_squared_error(y_test, reg_early.predict(x_test))\n"
    ),
    "early_stopping.warning": "warning_category = UserWarning\n",
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


def test_the_refit_raises_the_convergence_warning_and_it_is_no_grading_error(
        grader: Grader) -> None:
    reference = grader.reference(EXERCISE)
    refit_cases = EXERCISE.item("early_stopping.refit").cases
    for index in range(len(refit_cases)):
        assert reference.cases[("early_stopping.refit", index)]["warnings"] == \
            ["ConvergenceWarning"]


def test_curve_that_starts_a_new_network_every_step_loses_the_item(
        wrong_a: dict[str, ItemResult], wrong_b: dict[str, ItemResult]) -> None:
    # a fresh regressor per step gives the same numbers as partial_fit: only the count tells
    assert_lost(wrong_a["early_stopping.curve"], "fresh random weights", "expected 1")
    # fit on one regressor restarts it at every call
    assert_lost(wrong_b["early_stopping.curve"], "fresh random weights", "expected 1")


def test_best_step_counted_from_zero_loses_the_item(wrong_a: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["early_stopping.best_iter"], "0-based")


def test_best_step_of_the_highest_error_loses_the_item(wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_b["early_stopping.best_iter"], "best_n_iter")


def test_noise_floor_given_as_sigma_loses_the_item_naming_the_standard_deviation(
        wrong_a: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["early_stopping.noise_floor"], "standard deviation")


def test_noise_floor_typed_in_passes_the_visible_case_but_fails_a_hidden_one(
        wrong_b: dict[str, ItemResult]) -> None:
    result = wrong_b["early_stopping.noise_floor"]
    assert_lost(result, "hidden case", "noise of another size")
    assert "0.1225" not in result.message  # the hidden expected value is never shown


def test_fit_reporting_root_mean_squared_error_loses_the_item(
        wrong_a: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["early_stopping.fit"], "train_mse")


def test_fit_with_max_iter_typed_in_loses_the_item_naming_max_iter(
        wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_b["early_stopping.fit"], "max_iter", "expected 500, found 20000")


def test_refit_without_the_random_state_loses_the_item(wrong_a: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["early_stopping.refit"], "random_state")


def test_refit_trained_to_the_end_loses_the_item_naming_max_iter(
        wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_b["early_stopping.refit"], "max_iter", "best_n_iter")


def test_warning_as_a_string_or_a_wrong_class_loses_the_item(
        wrong_a: dict[str, ItemResult], wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["early_stopping.warning"], "class itself")
    assert_lost(wrong_b["early_stopping.warning"], "expected sklearn.exceptions.ConvergenceWarning")


# --- boundaries the notebook's convention fixes ------------------------------------------------

# "If several steps tie, take the first": a loop that replaces the best on <= picks the last.
LATER_TIE = {
    "early_stopping.best_iter": (
        "best_n_iter, lowest = 1, test_errors[0]\n"
        "for step, error in enumerate(test_errors, start=1):\n"
        "    if error <= lowest:\n"
        "        best_n_iter, lowest = step, error\n"
    ),
}


def test_hidden_best_iter_case_holds_a_tie_for_the_lowest_error() -> None:
    tied = [case for case in EXERCISE.item("early_stopping.best_iter").cases
            if case.build == "build_tied_curve"]
    assert len(tied) == 1 and tied[0].hidden
    errors = cases.build_tied_curve(**tied[0].args)["test_errors"]
    assert [i for i, e in enumerate(errors) if e == min(errors)] == tied[0].args["ties"]


def test_best_step_of_a_later_tie_loses_the_item_naming_the_tie(grader: Grader,
                                                                 tmp_path: Path) -> None:
    # the other graded cells stay blank: they cost no sandbox run
    items = items_of(grade_answers(grader, EXERCISE, tmp_path, LATER_TIE, rest="blank",
                                   given=FAST_SETTINGS))
    result = items["early_stopping.best_iter"]
    assert_lost(result, "on a hidden case (a curve whose lowest error is reached at three "
                        "separate steps (a tie))", "a later step of a tie", "found yes")
    assert "take the first" in result.hint and "< not <=" in result.hint
    # the manual loop with a strict < (CORRECT) keeps the first of the tied steps
    assert "if error < lowest" in CORRECT["early_stopping.best_iter"]
