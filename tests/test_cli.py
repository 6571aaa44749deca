"""The command line: exit codes, JSON contract, files written."""

import base64
import json
import os
import subprocess
import sys
import zipfile
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


def test_check_exits_1_when_points_are_lost_and_writes_gradescope_and_classroom_results(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github_output"))
    results = tmp_path / "results" / "results.json"
    notebook = CLASS / "bob" / f"{STEM}.ipynb"
    assert main(["check", str(notebook), "--gradescope", str(results), "--github-output"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "hint:" in out
    gradescope = json.loads(results.read_text())
    assert 0 < gradescope["score"] < sum(t["max_score"] for t in gradescope["tests"])
    line = (tmp_path / "github_output").read_text().strip()
    assert line.startswith("result=")
    classroom = json.loads(base64.b64decode(line[len("result="):]))
    assert classroom["version"] == 1 and classroom["status"] == "fail"
    assert {t["status"] for t in classroom["tests"]} == {"pass", "fail"}
    assert sum(t["score"] for t in classroom["tests"]) == gradescope["score"]


def test_check_exits_2_when_the_file_cannot_be_graded(tmp_path, capsys):
    assert main(["check", str(CLASS / "frank" / f"{STEM}.ipynb")]) == 2
    assert "could not be graded: the file is not valid JSON" in capsys.readouterr().out
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


def test_grade_shows_progress_with_failures_on_stderr(tmp_path, capsys):
    from nngrade.grader.grading import solution

    blank = tmp_path / "blank" / f"{STEM}.ipynb"
    blank.parent.mkdir()
    blank.write_text(solution.blank_notebook_text(STEM))
    paths = [str(blank), str(CLASS / "frank" / f"{STEM}.ipynb")]
    assert main(["grade", *paths, "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "2/2" in err and "1 not gradable, 1 lost points" in err


def test_grade_with_nothing_to_grade_exits_2(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "missing"), "--quiet"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty"), "--quiet"]) == 2
    assert "no notebooks found in" in capsys.readouterr().err


def test_solution_of_an_unknown_exercise_exits_2(tmp_path, capsys):
    assert main(["solution", "99_nothing", "-o", str(tmp_path / "x.ipynb")]) == 2
    assert "no exercise" in capsys.readouterr().err


def test_validate_passes_on_an_exercise(capsys):
    # 05 is cheap to run three times; 01's trained check is validated by its own tests
    assert main(["validate", "05"]) == 0
    assert "ok   05_edge_detection" in capsys.readouterr().out


def test_gradescope_bundle_grades_a_submission_laid_out_as_gradescope_does(tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert main(["export", "gradescope", "-o", str(bundle)]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        assert len(names) == len(set(names)), "a file was added to the bundle twice"
        zf.extractall(root)
        assert {"setup.sh", "run_autograder", "source/data/insurance.csv",
                "source/nngrade/grader/grading/grade.py",
                "source/nngrade/exercises/01_insurance_regression.ipynb"} <= set(zf.namelist())
    setup = (root / "setup.sh").read_text()
    assert "torch==2.13.0" in setup
    # every dependency the package declares is installed on Gradescope's machine
    import re
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in declared:
        assert re.split(r"[\s<>=!~;\[]", requirement)[0] in setup, requirement
    (root / "submission").mkdir()
    # any exercise of the bundle: 05 is the cheapest to grade (no run of the whole notebook)
    from nngrade.grader.grading import solution

    solution.write_solution(load_exercise("05"), root / "submission" / "homework.ipynb")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    env.pop("PYTHONPATH", None)
    subprocess.run(["bash", str(root / "run_autograder")], env=env, check=True, timeout=600,
                   capture_output=True)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0
    assert all(t["status"] == "passed" and t["visibility"] == "visible" for t in results["tests"])


def _results(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")}


def test_ctrl_c_stops_the_class_keeps_finished_grades_and_the_rerun_grades_the_rest(tmp_path):
    import signal
    import time

    from nngrade.grader.grading import solution

    # answered notebooks of an exercise graded from its item runs alone: about half a second
    # each, long enough to be caught between two
    vanishing = load_exercise("04")
    for student in ("ann", "ben", "cy"):
        nb = solution.filled_notebook(vanishing)
        nb.metadata["author"] = student
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / f"{vanishing.stem}.ipynb").write_text(
            nbformat.writes(nb))
    out = tmp_path / "grades"
    args = ["grade", str(tmp_path / "class"), "--out", str(out), "--jobs", "1", "--quiet"]
    # a background job (as CI may run this suite) inherits SIGINT ignored: restore what a
    # terminal gives, where Ctrl-C raises KeyboardInterrupt
    command = [sys.executable, "-c", "import signal, sys\n"
               "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
               "from nngrade.grader.cli import main\n"
               f"sys.exit(main({args!r}))"]
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not _results(out / "results") and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err
    kept = _results(out / "results")
    assert 1 <= len(kept) < 3
    time.sleep(1)
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftovers.stdout.split() == []
    subprocess.run(command, check=True, timeout=600, capture_output=True)
    again = _results(out / "results")
    assert len(again) == 3 and all(again[name] == mtime for name, mtime in kept.items())


def test_the_readme_grading_step_works_offline_from_a_fresh_clone_with_nothing_beside_it(
        tmp_path):
    # the data ships with the package: no NNGRADE_DATA_DIR, an empty cache, no network
    clone = tmp_path / "alone" / "nngrade"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    assert sorted(p.name for p in clone.parent.iterdir()) == ["nngrade"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNGRADE_")}
    env.update(NNGRADE_OFFLINE="1", NNGRADE_CACHE_DIR=str(tmp_path / "empty-cache"))
    done = subprocess.run([str(Path(sys.executable).parent / "nngrade"), "grade",
                           "examples/class01/alice", "--timeout", "20", "--quiet"],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "8/8  full marks" in done.stdout and "warning" not in done.stderr, done.stderr


def test_the_grader_never_imports_rfc3987_syntax_which_costs_seconds_where_jupyterlab_is(
        tmp_path):
    # jsonschema (under nbformat) imports it when it is installed and builds a grammar: 3 s
    # of every command's start on a student's machine with JupyterLab. A stand-in records
    # any import of it.
    fake = tmp_path / "site" / "rfc3987_syntax"
    fake.mkdir(parents=True)
    marker = tmp_path / "imported"
    (fake / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n"
                                      "def is_valid_syntax(kind, text):\n    return True\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    # a command that reads and writes a notebook with nbformat (and validates it)
    done = subprocess.run([sys.executable, "-m", "nngrade", "solution", "05", "-o",
                           str(tmp_path / "filled.ipynb")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "filled.ipynb").is_file() and not marker.exists()
    # the stand-in is what jsonschema would find: nbformat alone imports it
    subprocess.run([sys.executable, "-c", "import nbformat"], env=env, check=True, timeout=60)
    assert marker.exists()
