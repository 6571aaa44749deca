"""The command line: exit codes, JSON contract, files written."""

import json
from pathlib import Path

import nbformat
import pytest

from nngrade.grader.cli import main
from nngrade.reference import load_exercise

REPO = Path(__file__).resolve().parent.parent
CLASS = REPO / "examples" / "class01"
STEM = "01_insurance_regression"


@pytest.fixture(scope="module")
def reference_notebook(tmp_path_factory):
    path = tmp_path_factory.mktemp("sol") / f"{STEM}.ipynb"
    assert main(["solution", "01", "-o", str(path)]) == 0
    return path


def test_solution_fills_every_graded_cell_with_the_reference(reference_notebook):
    exercise = load_exercise(STEM)
    nb = nbformat.read(str(reference_notebook), as_version=4)
    filled = {c.metadata["nngrade"]["item"]: c.source for c in nb.cells
              if "item" in c.metadata.get("nngrade", {})}
    assert filled == dict(exercise.solution)
    assert nb.metadata["nngrade"]["exercise"] == STEM


def test_check_exits_0_on_full_marks(reference_notebook, capsys):
    assert main(["check", str(reference_notebook)]) == 0
    assert "Points 8/8" in capsys.readouterr().out


def test_check_exits_1_when_points_are_lost(capsys):
    assert main(["check", str(CLASS / "bob" / f"{STEM}.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "hint:" in out


def test_check_exits_2_when_the_file_cannot_be_graded(tmp_path, capsys):
    assert main(["check", str(CLASS / "frank" / f"{STEM}.ipynb")]) == 2
    other = tmp_path / "notes.ipynb"
    other.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert main(["check", str(other)]) == 2
    assert "which exercise" in capsys.readouterr().out


def test_grade_prints_the_json_contract_and_writes_reports(tmp_path, capsys):
    paths = [str(CLASS / "alice" / f"{STEM}.ipynb"), str(CLASS / "frank" / f"{STEM}.ipynb")]
    code = main(["grade", *paths, "--format", "json", "--out", str(tmp_path), "--jobs", "2",
                 "--quiet"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    alice, frank = report["submissions"]
    assert {"path", "exercise", "score", "max_score", "items", "errors"} <= set(alice)
    assert {"id", "score", "max_score", "status", "message"} <= set(alice["items"][0])
    assert alice["score"] == alice["max_score"] and alice["errors"] == []
    assert frank["errors"] and frank["items"] == []
    assert json.loads((tmp_path / "report.json").read_text()) == report
    pages = sorted(p.name for p in (tmp_path / "feedback").iterdir())
    assert pages == [f"alice-{STEM}.html", f"alice-{STEM}.md", "frank-unknown.html", "frank-unknown.md"]
    assert (tmp_path / "gradebook.csv").read_text().splitlines()[1].startswith("alice,")


def test_grade_with_nothing_to_grade_exits_2(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "missing"), "--quiet"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty"), "--quiet"]) == 2


def test_solution_of_an_unknown_exercise_exits_2(tmp_path, capsys):
    assert main(["solution", "99_nothing", "-o", str(tmp_path / "x.ipynb")]) == 2
    assert "no exercise" in capsys.readouterr().err


def test_validate_passes_on_exercise_01(capsys):
    assert main(["validate", STEM]) == 0
    assert "ok   01_insurance_regression" in capsys.readouterr().out
