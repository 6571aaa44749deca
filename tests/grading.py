"""Helpers the exercise tests share: fill a notebook by item id, grade it, read its items."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import nbformat

from nngrade.grader.sandbox import runner
from nngrade.grader.grading import solution
from nngrade.grader.sandbox.limits import Limits
from nngrade.grader.report import ItemResult, SubmissionReport
from nngrade.grader.spec import Exercise


def _item_of(cell: nbformat.NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nngrade", {}).get("item")


def notebook_with(exercise: Exercise, answers: Mapping[str, str], *, rest: str = "reference",
                  given: Mapping[str, str] | None = None) -> nbformat.NotebookNode:
    """The exercise's notebook with the cells of ``answers`` replaced by item id; the other
    graded cells hold the reference (``rest="reference"``) or their blank template
    (``rest="blank"``, so they cost no sandbox run); in given cells, each text of ``given``
    is replaced (cheaper settings for the notebook's own run)."""
    nb = (solution.filled_notebook(exercise) if rest == "reference"
          else solution.blank_notebook(exercise.stem))
    replaced = set()
    for cell in nb.cells:
        item = _item_of(cell)
        if item in answers:
            cell.source = answers[item]
            replaced.add(item)
        elif cell.cell_type == "code" and not item:
            for old, new in (given or {}).items():
                cell.source = cell.source.replace(old, new)
    assert replaced == set(answers), f"no cell for {set(answers) - replaced}"
    return nb


def grade_answers(grader, exercise: Exercise, folder: Path, answers: Mapping[str, str],
                  **options) -> SubmissionReport:
    """Write ``notebook_with(...)`` as ``folder/<stem>.ipynb`` and grade it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{exercise.stem}.ipynb"
    nbformat.write(notebook_with(exercise, answers, **options), str(path))
    return grader.grade(path)


def items_of(report: SubmissionReport) -> dict[str, ItemResult]:
    """The item results of a graded report, by id."""
    assert not report.errors, report.errors
    return {item.id: item for item in report.items}


def assert_full_marks(report: SubmissionReport, exercise: Exercise) -> None:
    """Every automatic item passed and the notebook's own run raised nothing."""
    lost = {i.id: i.message for i in report.items if i.status not in ("passed", "manual")}
    assert lost == {}
    assert report.score == report.max_score == exercise.max_score
    assert not report.cell_errors


def assert_lost(result: ItemResult, *words: str) -> None:
    """The item lost all its points, with every word in its message."""
    assert result.status in ("failed", "error") and result.score == 0, (result.status,
                                                                       result.message)
    text = result.message.lower()
    assert all(word.lower() in text for word in words), result.message


def given_source(exercise: Exercise, marker: str) -> str:
    """The source of the notebook's one given (ungraded) code cell that contains ``marker``."""
    found = [cell.source for cell in solution.blank_notebook(exercise.stem).cells
             if cell.cell_type == "code" and "nngrade" not in cell.metadata
             and marker in cell.source]
    assert len(found) == 1, f"expected one given cell with {marker!r}"
    return found[0]


def run_cell(source: str, hide: tuple[str, ...] = (), **limits) -> runner.RunResult:
    """Run ``source`` in a sandbox with ``sandbox_cases``' inputs (x = 3) and probe (y)."""
    return runner.run(runner.RunRequest(
        source=source, cases_module="sandbox_cases", build="build", probe="probe",
        writes=("y",), hide=hide, limits=Limits(**{"timeout": 10, **limits})))


def kernels_running() -> int:
    """Kernel launchers of this machine's sandboxes now alive (children of this process)."""
    found = 0
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"nngrade.grader.sandbox.kernel_launch" in cmdline and parent == os.getpid():
            found += 1
    return found
