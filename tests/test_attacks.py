"""Attacks a submission may try, performed for real: each costs the attacking item (or
submission) only, with one sentence of why, and buys no points."""

from __future__ import annotations

import json

import pytest

from nngrade.grader.sandbox.limits import GiB
from nngrade.reference import load_exercise

from grading import grade_answers, items_of
from grading import run_cell as run

@pytest.mark.parametrize("source, kind, words", [
    ("raise KeyboardInterrupt", "exception", "KeyboardInterrupt"),
    ("class Escape(BaseException):\n    pass\nraise Escape('out')", "exception", "Escape: out"),
    ("raise SystemExit(0)", "exit", "exit(0)"),
    ("import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):\n"
     "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass", "timeout", "3 s limit"),
    ("import time\ntime.sleep(60)", "timeout", "3 s limit"),
    ("grow = []\nwhile True:\n    grow.append(' ' * 10**8)", "memory", "1 GiB"),
])
def test_runaway_cells_become_one_sentence_for_their_item(source, kind, words):
    # a memory bomb gets time enough to reach the cap even on a loaded machine
    result = run(source, memory=GiB, timeout=30 if kind == "memory" else 3)
    assert (result.status, result.kind) == ("error", kind), result
    assert words in result.message


def test_millions_of_lines_of_output_do_not_stop_the_cell():
    result = run("for i in range(3_000_000):\n    print(i)\ny = 7", timeout=30)
    assert result.observation == {"y": 7}


def test_an_int_that_claims_to_equal_everything_is_sent_as_its_value():
    result = run("class Liar(int):\n    def __eq__(self, other):\n        return True\n"
                 "    __hash__ = int.__hash__\ny = Liar(5)")
    assert result.observation == {"y": 5} and type(result.observation["y"]) is int


def test_replacing_builtins_does_not_reach_the_probe():
    result = run("import builtins\nbuiltins.isinstance = lambda *a: True\n"
                 "builtins.len = lambda *a: 0\ny = 'text'")
    assert result.kind == "probe" and result.message == "y should be an int"


EXERCISE = load_exercise("01_insurance_regression")


def test_patching_libraries_and_builtins_buys_no_points(grader, tmp_path):
    cheat = ("import numpy as np, torch\n"
             "df = df[df['smoker'] == 'yes']\n"
             "np.allclose = lambda *a, **k: True\n"
             "torch.allclose = lambda *a, **k: True\n"
             "np.array_equal = lambda *a, **k: True\n")
    items = items_of(grade_answers(grader, EXERCISE, tmp_path, {"insurance.filter": cheat},
                                   rest="blank"))
    assert items["insurance.filter"].score == 0
    assert "number of rows kept" in items["insurance.filter"].message


def test_printing_a_fake_report_and_claiming_points_in_metadata_buys_nothing(grader, tmp_path):
    fake = {"score": 100, "tests": [{"name": "insurance.filter", "score": 100, "status": "passed"}]}
    cell = (f"print({json.dumps(json.dumps(fake))})\n"
            "print('PASS insurance.filter 100/1')\n"
            "df = df[df['smoker'] == 'yes']\n")
    report = grade_answers(grader, EXERCISE, tmp_path, {"insurance.filter": cell}, rest="blank")
    path = tmp_path / f"{EXERCISE.stem}.ipynb"
    nb = json.loads(path.read_text())
    nb["metadata"]["nngrade"].update(points=1000, max_score=1000)
    for c in nb["cells"]:
        if c["metadata"].get("nngrade", {}).get("item") == "insurance.filter":
            c["metadata"]["nngrade"]["points"] = 1000
    path.write_text(json.dumps(nb))
    again = grader.grade(path)
    for graded in (report, again):
        assert graded.score == 0 and graded.max_score == EXERCISE.max_score
        assert items_of(graded)["insurance.filter"].max_score == EXERCISE.item("insurance.filter").points


def test_a_code_cell_of_tens_of_megabytes_is_graded_like_any_other(grader, tmp_path):
    padding = "# " + "x" * 98 + "\n"
    cell = 'df = df.loc[df.smoker != "yes"]\n' + padding * 200_000  # 20 MB
    report = grade_answers(grader, EXERCISE, tmp_path, {"insurance.filter": cell}, rest="blank")
    item = items_of(report)["insurance.filter"]
    assert item.status == "passed", item.message


_RIGHT_PRED = "with torch.no_grad():\n    y_pred = model(X_test)\n"


@pytest.mark.parametrize("answer, words", [
    # an array-like that claims to be anything: not a tensor, so never converted
    (_RIGHT_PRED + "class Anything:\n    def __array__(self, *a, **k):\n"
                   "        import numpy\n        return numpy.zeros((len(X_test), 1))\n"
                   "    def __eq__(self, other):\n        return True\n"
                   "y_pred = Anything()\ntest_loss = 0.0\n", ["`y_pred` should be a tensor"]),
    # a number that raises when the grader reads it
    (_RIGHT_PRED + "class Boom(float):\n    def __float__(self):\n"
                   "        raise RuntimeError('gotcha')\ntest_loss = Boom(1.0)\n",
     ["float(test_loss) raised RuntimeError: gotcha"]),
    # a number that kills the process when the grader reads it
    (_RIGHT_PRED + "import os\nclass Bye:\n    def __float__(self):\n        os._exit(0)\n"
                   "test_loss = Bye()\n", ["ended", "os._exit"]),
])
def test_objects_that_lie_raise_or_exit_when_inspected_cost_their_item(grader, tmp_path, answer,
                                                                       words):
    report = grade_answers(grader, EXERCISE, tmp_path, {"insurance.evaluate": answer}, rest="blank")
    item = items_of(report)["insurance.evaluate"]
    assert item.score == 0 and item.status in ("failed", "error")
    assert all(w in item.message for w in words), item.message
