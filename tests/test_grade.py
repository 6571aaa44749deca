"""Grading one submission: what is the student's, what is the package's, and the keys a
stored grade is filed under."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import nbformat
import pytest

from nngrade.errors import DeclarationError, ReferenceFailure
from nngrade.grader.grading import declaration, expected, notebook, solution
from nngrade.grader.grading.grade import Grader
from nngrade.grader.spec import Case, Exercise, Expect, Item
from nngrade.reference import load_exercise
from grading import kernels_running

VANISHING = load_exercise("04")


def _one_item(exercise: Exercise, item_id: str, **changes) -> Exercise:
    item = dataclasses.replace(exercise.item(item_id), **changes)
    return dataclasses.replace(exercise, items=(item,))


def test_a_notebook_without_metadata_is_filed_under_its_exercises_fingerprint(tmp_path):
    # graded as exercise 04 by its file name, so its stored grade must change with 04's reference
    nb = solution.blank_notebook(VANISHING.stem)
    del nb.metadata["nngrade"]
    path = tmp_path / f"{VANISHING.stem}.ipynb"
    nbformat.write(nb, str(path))
    version = Grader().version_of(path.read_bytes(), path)
    assert version == expected.fingerprint(VANISHING) != ""
    assert Grader().version_of(b"{not json", tmp_path / "notes.ipynb") == ""


def test_a_failure_of_the_graders_own_inputs_is_the_packages_error_not_the_students(tmp_path):
    exercise = _one_item(VANISHING, "vanishing.bound", cases=(
        Case("build_broken", "probe", "inputs the grader cannot build",
             args={"depths": [3]}),))
    exercise = dataclasses.replace(exercise, cases_module="sandbox_cases")
    nb = solution.filled_notebook(VANISHING)
    path = tmp_path / f"{VANISHING.stem}.ipynb"
    nbformat.write(nb, str(path))
    sub = notebook.read(path)
    grader = Grader()
    reference = expected.ReferenceRun({("vanishing.bound", 0): {"ratios": [1.0]}}, {})
    with pytest.raises(ReferenceFailure) as info:
        grader._grade_item(exercise, exercise.items[0], sub, {}, reference, [], ())
    assert info.value.item == "vanishing.bound" and info.value.exercise == VANISHING.stem
    assert "problem of the package" in str(info.value) and "RuntimeError" in str(info.value)


def test_a_declaration_naming_a_probe_its_cases_lack_fails_when_loaded():
    broken = _one_item(VANISHING, "vanishing.bound", cases=(
        Case("build_nothing", "probe_that_does_not_exist", "anything"),))
    with pytest.raises(DeclarationError, match="probe_that_does_not_exist") as info:
        declaration.check_names(broken)
    assert info.value.item == "vanishing.bound"
    declaration.check_names(VANISHING)  # the real one passes


def test_an_expect_key_the_reference_does_not_observe_stops_with_a_setup_error(tmp_path):
    item = VANISHING.item("vanishing.bound")
    broken = _one_item(VANISHING, item.id,
                       expects=(*item.expects, Expect("no_such_key", "something")))
    with pytest.raises(DeclarationError) as info:
        Grader(use_cache=False).reference(broken)
    assert info.value.exercise == VANISHING.stem and info.value.item == item.id
    assert "'no_such_key'" in str(info.value)


def test_editing_the_command_line_or_the_outputs_keeps_the_fingerprint():
    sources = {p.relative_to(p.parents[1]).as_posix() for p in expected.observation_sources()}
    assert "sandbox/child.py" in sources and "grader/probes.py" in sources
    assert "vanishing/solution.py" in sources
    assert not any(s.endswith("cli.py") or "outputs/" in s or s.endswith("compare.py")
                   for s in sources)


EDGES = load_exercise("05")
# almost right: the kernel is not flipped, so an asymmetric kernel gives the wrong answer
NOT_FLIPPED = (
    "def convolve2d(image, kernel):\n"
    "    image, kernel = np.asarray(image, float), np.asarray(kernel, float)\n"
    "    kh, kw = kernel.shape\n"
    "    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode='symmetric')\n"
    "    out = np.zeros(image.shape)\n"
    "    for i in range(image.shape[0]):\n"
    "        for j in range(image.shape[1]):\n"
    "            out[i, j] = (padded[i:i + kh, j:j + kw] * kernel).sum()\n"
    "    return out\n"
)


@pytest.fixture(scope="module")
def edges_class(tmp_path_factory):
    """Three exercise-05 notebooks, each with a cell outside the items that raises."""
    from grading import notebook_with

    root = tmp_path_factory.mktemp("edges")
    for student, answers in (("ref", {}), ("flip", {"edges.convolve2d": NOT_FLIPPED}),
                             ("blank", None)):
        nb = notebook_with(EDGES, answers or {}, rest="blank" if answers is None else "reference")
        nb.cells.append(nbformat.v4.new_code_cell("raise ValueError('a scratch cell')"))
        (root / "class" / student).mkdir(parents=True)
        nbformat.write(nb, str(root / "class" / student / f"{EDGES.stem}.ipynb"))
    return root / "class"


def _graded(folder, capsys, *extra):
    from nngrade.grader.cli import main

    assert main(["grade", str(folder), "--format", "json", "--quiet", *extra]) == 0
    return {s["student"]: s for s in json.loads(capsys.readouterr().out)["submissions"]}


def _grades(subs):
    return {who: [(i["id"], i["score"], i["status"], i["message"]) for i in s["items"]]
            for who, s in subs.items()}


def test_a_class_gets_the_same_grades_with_and_without_running_each_notebook(
        edges_class, tmp_path, capsys, monkeypatch):
    from nngrade.grader.grading import kernel

    assert not EDGES.needs_run
    alone = _graded(edges_class, capsys, "--out", str(tmp_path / "alone"))
    launched, discarded = [], []
    for name, seen in (("_launch", launched), ("_discard", discarded)):
        real = getattr(kernel, name)
        monkeypatch.setattr(kernel, name, lambda k, real=real, seen=seen: seen.append(k) or real(k))
    whole = _graded(edges_class, capsys, "--execute", "--jobs", "1", "--out", str(tmp_path / "whole"))
    # with a core to spare, every notebook ran in a kernel started ahead with the exercise's
    # modules loaded, and none was started for nothing
    assert len(launched) == 3 and discarded == []
    assert all(key[-1] == EDGES.preload for key in launched)
    assert _grades(alone) == _grades(whole)
    assert alone["ref"]["score"] == EDGES.max_score > alone["flip"]["score"]
    assert alone["blank"]["score"] == 0
    # only the run of the whole notebook sees the scratch cell, and only it is kept
    assert not any(s["executed"] or s["cell_errors"] for s in alone.values())
    assert all(s["executed"] for s in whole.values())
    assert kernels_running() == 0  # no kernel started ahead is left running
    assert all("ValueError: a scratch cell" in s["cell_errors"][-1] for s in whole.values())
    assert not (tmp_path / "alone" / "executed").exists()
    kept = nbformat.read(str(tmp_path / "whole" / "executed" / f"flip-{EDGES.stem}.ipynb"),
                         as_version=4)
    errors = [o for c in kept.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert [e.evalue for e in errors][-1] == "a scratch cell"
    assert not any("NNGRADE-STATE" in str(c.source) for c in kept.cells)  # the grader's cell
    page = (tmp_path / "alone" / "feedback" / f"flip-{EDGES.stem}.md").read_text()
    assert "not run as a whole" in page


def test_a_notebook_left_blank_raises_no_false_alarm_about_missing_protections(
        edges_class, capsys):
    from nngrade.grader.cli import main

    # no cell of it runs anywhere: no protection was missing for it
    blank = edges_class / "blank" / f"{EDGES.stem}.ipynb"
    assert main(["grade", str(blank), "--format", "json", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["submissions"][0]["score"] == 0
    assert "did not allow" not in captured.err


def test_check_runs_the_notebook_unless_told_not_to(edges_class, capsys):
    from nngrade.grader.cli import main

    path = edges_class / "ref" / f"{EDGES.stem}.ipynb"
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ValueError: a scratch cell" in out and "not run as a whole" not in out
    assert main(["check", str(path), "--no-execute"]) == 0
    out = capsys.readouterr().out
    assert "a scratch cell" not in out and "not run as a whole" in out


def test_a_report_says_where_a_submissions_seconds_went(edges_class, grader):
    report = grader.grade(edges_class / "ref" / f"{EDGES.stem}.ipynb")
    assert {"reference", "items", "comparison"} <= set(report.timings)
    assert sum(report.timings[k] for k in ("reference", "items")) <= report.seconds + 1e-6


def test_a_fingerprint_reads_the_versions_importlib_metadata_gives():
    from importlib import metadata

    for dist in ("numpy", "torch", "matplotlib", "nbformat"):
        assert expected._version(dist) == metadata.version(dist)
    assert expected._version("no-such-distribution-of-nngrade") is None


def test_a_lone_notebook_starts_the_fork_servers_imports_before_loading_the_reference(
        tmp_path):
    # the fork server's imports are most of a lone notebook's check: they go on while the
    # reference is loaded, not after it (a fresh process: this session's server is running)
    path = tmp_path / f"{VANISHING.stem}.ipynb"
    solution.write_solution(VANISHING, path)
    script = (
        "from multiprocessing import forkserver\n"
        "from nngrade.grader.grading import grade\n"
        "seen = []\n"
        "original = grade.Grader.reference\n"
        "def reference(self, exercise):\n"
        "    seen.append(forkserver._forkserver._forkserver_pid is not None)\n"
        "    return original(self, exercise)\n"
        "grade.Grader.reference = reference\n"
        f"report = grade.Grader().grade({str(path)!r})\n"
        "print(seen, report.score == report.max_score)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.stdout.split() == ["[True]", "True"], done.stdout + done.stderr
