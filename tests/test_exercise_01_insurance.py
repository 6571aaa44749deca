"""Exercise 01 end to end: the reference, the blank notebook, the sample class, and answers
that are right but different or almost right, graded through the whole engine."""

from __future__ import annotations

import base64
import importlib.util
import os
from pathlib import Path

import nbformat
import pytest

from nngrade.grader import report as report_module
from nngrade.grader.grading import batch
from nngrade.grader.outputs import feedback
from nngrade.grader.sandbox import namespaces
from nngrade.grader.grading import solution
from nngrade.reference import load_exercise
from nngrade.reference.insurance import cases as ins_cases
from grading import assert_lost, grade_answers, items_of

REPO = Path(__file__).resolve().parent.parent
EXERCISE = load_exercise("01_insurance_regression")
POINTS = {item.id: item.points for item in EXERCISE.items}


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_class01", REPO / "examples" / "make_class01.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_class01 = _load_generator()


def _outcome(report):
    return {item.id: item.status for item in report.items}


def _message(report, item_id):
    return next(i.message for i in report.items if i.id == item_id)


@pytest.fixture(scope="module")
def sample_class(grader):
    """The committed sample class, graded in parallel once for all tests of this module."""
    paths = batch.collect([str(REPO / "examples" / "class01")])
    # erin's endless loop takes the whole timeout: started first, it runs beside the others
    # instead of after them (the grades do not depend on the order)
    paths.sort(key=lambda target: target.student != "erin")
    graded = batch.grade_all(paths, jobs=2, grader=grader)
    return {Path(s.path).parent.name: s for s in graded.submissions}


def test_reference_solution_gets_full_marks(grader, tmp_path):
    path = solution.write_solution(EXERCISE, tmp_path / "01_insurance_regression.ipynb")
    report = grader.grade(path)
    assert report.score == EXERCISE.max_score == sum(POINTS.values())
    assert set(_outcome(report).values()) == {"passed"}
    assert report.cell_errors == ()
    assert report.executed and nbformat.reads(report.notebook, as_version=4).cells
    # the plot item's figure, drawn by the student's cell on nngrade's inputs, for review
    figure = items_of(report)["insurance.plot"].figure
    assert base64.b64decode(figure).startswith(b"\x89PNG\r\n\x1a\n")
    assert f'src="data:image/png;base64,{figure}"' in feedback.html(report)
    contract = report_module.GradeReport((report,)).to_dict()["submissions"][0]
    assert "notebook" not in contract and not any("figure" in i for i in contract["items"])


def test_blank_notebook_gets_zero_without_crashing(grader, tmp_path):
    path = tmp_path / "01_insurance_regression.ipynb"
    path.write_text(solution.blank_notebook_text(EXERCISE.stem))
    report = grader.grade(path)
    assert report.graded and report.score == 0
    assert all("not answered" in i.message for i in report.items)


def test_examples_are_what_their_generator_writes(tmp_path):
    for written in make_class01.build(tmp_path):
        committed = REPO / "examples" / "class01" / written.relative_to(tmp_path)
        assert committed.read_text() == written.read_text(), "rerun examples/make_class01.py"


def test_right_answer_written_differently_gets_full_marks(sample_class):
    alice = sample_class["alice"]
    assert alice.score == EXERCISE.max_score, _outcome(alice)


def test_almost_right_answers_lose_exactly_their_items_with_reasons(sample_class):
    bob, carol, dave = sample_class["bob"], sample_class["carol"], sample_class["dave"]
    assert _outcome(bob)["insurance.filter"] == "failed"
    assert "number of rows kept" in _message(bob, "insurance.filter")
    assert "non-linear" in _message(bob, "insurance.model")
    assert "learning rate: expected 0.001, found 0.01" in _message(bob, "insurance.loss_opt")
    assert _outcome(bob)["insurance.train_step"] == "passed"
    # Bob's evaluate cell is right, and his trained weights (a linear net fitted to smokers in
    # standard units), measured on the notebook's own test set, are within the bound
    assert _outcome(bob)["insurance.evaluate"] == "passed"
    assert bob.score == POINTS["insurance.train_step"] + POINTS["insurance.evaluate"] + POINTS["insurance.plot"]

    assert "Adam" in _message(carol, "insurance.loss_opt")
    assert "weights after training" in _message(carol, "insurance.train_step")
    assert "in dollars" in _message(carol, "insurance.plot")
    assert _outcome(carol)["insurance.filter"] == _outcome(carol)["insurance.model"] == "passed"

    assert "weights after training" in _message(dave, "insurance.train_step")
    assert _outcome(dave)["insurance.evaluate"] == "error"
    assert "NameError" in _message(dave, "insurance.evaluate")
    assert dave.score == EXERCISE.max_score - POINTS["insurance.train_step"] - POINTS["insurance.evaluate"]


def test_endless_loop_costs_only_its_item_and_the_state_it_blocks(sample_class):
    erin = sample_class["erin"]
    outcome = _outcome(erin)
    assert outcome["insurance.model"] == "error" and "limit" in _message(erin, "insurance.model")
    assert outcome["insurance.train_step"] == outcome["insurance.plot"] == "passed"
    assert any("ran past" in e for e in erin.cell_errors)
    # a killed run reports nothing; the protections come from the runs that did report
    assert set(erin.protections) == set(namespaces.ALL)


def test_corrupt_file_is_reported_and_the_rest_of_the_class_is_graded(sample_class):
    assert "not valid JSON" in sample_class["frank"].errors[0]
    assert all(s.graded for name, s in sample_class.items() if name != "frank")


RIGHT_BUT_DIFFERENT = {
    "insurance.filter": 'df = df.loc[df["smoker"].eq("no")]\n',
    "insurance.model": ("model = nn.Sequential(nn.Linear(1, 10), nn.Tanh(), nn.Linear(10, 10),\n"
                        "                      nn.ReLU(), nn.Linear(10, 1))\n"),
    "insurance.loss_opt": ("from torch.optim import SGD\n"
                           "criterion = nn.MSELoss()\n"
                           "optimizer = SGD(model.parameters(), 0.001)\n"),
    "insurance.train_step": ("losses = []\n"
                             "for _ in range(n_epochs):\n"
                             "    optimizer.zero_grad(set_to_none=False)\n"
                             "    loss = criterion(model(X_train), y_train)\n"
                             "    loss.backward()\n"
                             "    optimizer.step()\n"
                             "    losses.append(float(loss))\n"),
    "insurance.evaluate": ("y_pred = model(X_test).detach()\n"
                           "test_loss = nn.functional.mse_loss(y_pred, y_test).item()\n"),
    "insurance.plot": ("fig, ax = plt.subplots()\n"
                       "actual = scaler_y.inverse_transform(y_test.numpy())\n"
                       "ax.plot(actual, scaler_y.inverse_transform(y_pred.numpy()), 'o')\n"),
}

ALMOST_RIGHT = {
    "insurance.filter": ('df = df[df["smoker"] == "no"].drop(columns="smoker")\n', "lost the column"),
    "insurance.model": ("class Net(nn.Module):\n"
                        "    def __init__(self):\n"
                        "        super().__init__()\n"
                        "        self.a, self.b = nn.Linear(1, 32), nn.Linear(32, 1)\n"
                        "    def forward(self, x):\n"
                        "        return self.b(self.a(x))\n"
                        "model = Net()\n", "non-linear"),
    "insurance.loss_opt": ("criterion = nn.MSELoss()\n"
                           "optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)\n",
                           "momentum"),
    "insurance.train_step": ("losses = []\n"
                             "for epoch in range(n_epochs):\n"
                             "    loss = criterion(model(X_train), y_train)\n"
                             "    loss.backward()\n"
                             "    optimizer.zero_grad()\n"
                             "    optimizer.step()\n"
                             "    losses.append(loss.item())\n", "weights after training"),
    "insurance.evaluate": ("with torch.no_grad():\n"
                           "    y_pred = model(X_test)\n"
                           "    test_loss = criterion(y_pred, y_test).sqrt().item()\n",
                           "test_loss"),
    "insurance.plot": ("plt.scatter(y_test.numpy(), y_pred.numpy())\n", "in dollars"),
}

MORE_ALMOST_RIGHT = {
    "insurance.filter": ('df = df[df["age"] < 60]\n', "number of rows kept"),
    "insurance.model": ("model = nn.Sequential(nn.Linear(1, 1), nn.ReLU())\n", "hidden layers"),
    "insurance.loss_opt": ("criterion = nn.L1Loss()\n"
                           "optimizer = torch.optim.SGD(model.parameters(), lr=0.001)\n",
                           "mean squared error"),
    "insurance.train_step": ("losses = []\n"
                             "for epoch in range(n_epochs):\n"
                             "    loss = criterion(model(X_train), y_train)\n"
                             "    optimizer.zero_grad()\n"
                             "    loss.backward()\n"
                             "    losses.append(loss.item())\n", "weights after training"),
    "insurance.evaluate": ("with torch.no_grad():\n"
                           "    y_pred = model(X_test)\n"
                           "    test_loss = nn.MSELoss(reduction='sum')(y_pred, y_test).item()\n",
                           "test_loss"),
    "insurance.plot": ("plt.plot([1, 2, 3])\n", "in dollars"),
}


def _grade(grader, tmp_path, answers, name):
    path = tmp_path / name / "01_insurance_regression.ipynb"
    path.parent.mkdir()
    nbformat.write(make_class01.notebook_for(answers), str(path))
    return grader.grade(path)


def test_more_right_but_different_answers_get_full_marks(grader, tmp_path):
    report = _grade(grader, tmp_path, RIGHT_BUT_DIFFERENT, "right")
    assert report.score == EXERCISE.max_score, [(i.id, i.message) for i in report.items]


@pytest.mark.parametrize("variants", [ALMOST_RIGHT, MORE_ALMOST_RIGHT], ids=["set1", "set2"])
def test_each_almost_right_answer_loses_its_item_with_a_reason(grader, tmp_path, variants):
    report = _grade(grader, tmp_path, {k: v[0] for k, v in variants.items()}, "almost")
    assert {item.id for item in report.items} == set(variants) == set(POINTS)
    for item in report.items:
        assert item.status in ("failed", "error") and item.score == 0, item
        assert variants[item.id][1] in item.message, (item.id, item.message)


def test_a_relative_data_dir_still_reaches_the_sandboxes(monkeypatch, tmp_path):
    import shutil

    from nngrade.datasets import DATA_FILES, loader
    from nngrade.grader.grading import requests
    from nngrade.grader.sandbox import runner

    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(loader.packaged(DATA_FILES["insurance"]), data / "insurance.csv")
    monkeypatch.chdir(data.parent)
    monkeypatch.setenv("NNGRADE_DATA_DIR", data.name)
    item = EXERCISE.item("insurance.filter")
    request = requests.request(EXERCISE, item, item.cases[0], EXERCISE.solution[item.id], (),
                             grader_limits())
    assert request.env["NNGRADE_DATA_DIR"] == str(data)
    result = runner.run(request)
    assert result.status == "ok", result.message


def grader_limits():
    from nngrade.grader.sandbox.limits import Limits

    return Limits(timeout=30)


# The filter of this notebook is right on the real data, so the notebook's own run is the
# reference's, and wrong on a hidden boundary (tested below; one notebook graded for both).
EMPTY_GROUP_FILTER = 'df = df.groupby("smoker").get_group("no")\n'


@pytest.fixture(scope="module")
def overwritten(grader, tmp_path_factory):
    """A network trained on a sign-flipped target (an edited given cell), a later (graded,
    otherwise right) cell that claims a tiny test loss, and a filter that fails on a frame
    without non-smokers."""
    plot = EXERCISE.solution["insurance.plot"] + "test_loss = 1e-4\n"
    target = "y_train = torch.tensor(scaler_y.transform(y_train_raw), dtype=torch.float32)"
    report = grade_answers(grader, EXERCISE, tmp_path_factory.mktemp("overwritten"),
                           {"insurance.plot": plot, "insurance.filter": EMPTY_GROUP_FILTER},
                           given={target: "y_train = -" + target[len("y_train = "):]})
    return items_of(report)


def test_overwriting_test_loss_in_a_later_cell_does_not_pass_the_bound(overwritten):
    # the bound is measured on the trained weights, not on the test_loss variable
    items = overwritten
    assert items["insurance.plot"].status == "passed"
    evaluate = items["insurance.evaluate"]
    assert evaluate.status == "failed" and "test loss of your trained network" in evaluate.message
    assert "in your notebook's own run" in evaluate.message


def test_the_graders_test_set_is_the_one_the_notebook_builds():
    # the trained-network bound is measured on cases._notebook_test_set(), a copy of the
    # notebook's given data cell: the two must not drift apart
    import numpy as np

    from nngrade.grader.grading import kernel
    from nngrade.grader.grading import requests
    from nngrade.reference.insurance import cases

    nb = solution.filled_notebook(EXERCISE)
    model_cell = next(i for i, c in enumerate(nb.cells)
                      if c.get("metadata", {}).get("nngrade", {}).get("item") == "insurance.model")
    nb.cells = nb.cells[:model_cell]
    run = kernel.execute(nb, state_names=["X_test", "y_test"], env=requests.sandbox_env())
    x_bytes, y_bytes, n = cases._notebook_test_set()
    np.testing.assert_array_equal(run.state["X_test"].reshape(-1),
                                  np.frombuffer(x_bytes, dtype=np.float32))
    np.testing.assert_array_equal(run.state["y_test"].reshape(-1),
                                  np.frombuffer(y_bytes, dtype=np.float32))
    assert len(run.state["X_test"]) == n


# --- boundaries the notebook's convention fixes ------------------------------------------------

# "Keep only the rows whose smoker column is "no"": a frame where everyone smokes keeps no
# row, a frame without smokers keeps them all. get_group has no group to return in either.
FILTER_AT_THE_BOUNDARIES = [
    (EMPTY_GROUP_FILTER, "a frame in which everyone smokes, so that no row is kept"),
    ('df = df.drop(df.groupby("smoker").get_group("yes").index)\n',
     "a frame without smokers, so that every row is kept"),
]


def test_filter_hidden_cases_hold_a_frame_of_smokers_only_and_one_without_smokers():
    cases = {case.describe: case for case in EXERCISE.item("insurance.filter").cases}
    namespace = {}
    for answer, describe in FILTER_AT_THE_BOUNDARIES:
        case = cases[describe]
        assert case.hidden
        frame = ins_cases.build_synthetic_frame(**case.args)["df"]
        assert set(frame["smoker"]) == {"yes" if "everyone" in describe else "no"}
        # the reference keeps no row or every row; the get_group answer has no group to return
        kept = {"df": frame.copy()}
        exec(EXERCISE.solution["insurance.filter"], namespace, kept)
        assert len(kept["df"]) == (0 if "everyone" in describe else len(frame))
        with pytest.raises(KeyError):
            exec(answer, {}, {"df": frame.copy()})


def test_filter_that_fails_on_an_empty_group_loses_the_item(overwritten):
    _, describe = FILTER_AT_THE_BOUNDARIES[0]
    assert_lost(overwritten["insurance.filter"], f"on a hidden case ({describe})",
                "raised KeyError: 'no'")
