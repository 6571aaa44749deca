"""The instructor's self-test: the reference gets full marks, the blank notebook zero without
a crash, and grading the same notebook twice gives the same grade."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from nngrade.grader.grading import solution
from nngrade.grader.grading.grade import Grader
from nngrade.grader.report import SubmissionReport
from nngrade.reference import exercise_names, load_exercise


@dataclass(frozen=True)
class Validation:
    """The outcome of validating one exercise: a list of failures (empty: all good)."""

    exercise: str
    failures: tuple[str, ...]
    reports: tuple[SubmissionReport, ...]


def _summary(report: SubmissionReport) -> list[tuple]:
    return [(i.id, i.score, i.status, i.message) for i in report.items]


def validate(names: list[str] | None = None, grader: Grader | None = None) -> list[Validation]:
    """Validate the named exercises (all by default)."""
    # a self-test must run the reference for real, and the whole notebook too: its own run
    # must raise nothing even where no check needs it
    grader = grader or Grader(use_cache=False, execute=True)
    outcomes = []
    for name in names or exercise_names():
        exercise = load_exercise(name)
        failures: list[str] = []
        with tempfile.TemporaryDirectory(prefix="nngrade-validate-") as tmp:
            filled = solution.write_solution(exercise, Path(tmp) / f"{exercise.stem}.ipynb")
            blank = Path(tmp) / "blank" / f"{exercise.stem}.ipynb"
            blank.parent.mkdir()
            blank.write_text(solution.blank_notebook_text(exercise.stem), encoding="utf-8")
            ref, ref_again, empty = (grader.grade(filled), grader.grade(filled), grader.grade(blank))
        if ref.errors or not ref.full_marks:
            lost = [f"{i.id}: {i.message}" for i in ref.items if i.status != "passed"]
            failures.append("the reference solution lost points: " + "; ".join(lost or ref.errors))
        if ref.cell_errors:
            failures.append("the reference notebook's own run raised: " + "; ".join(ref.cell_errors))
        if _summary(ref) != _summary(ref_again):
            failures.append("grading the reference twice gave different results")
        if empty.errors or empty.score != 0:
            failures.append(f"the blank notebook got {empty.score:g} points, expected 0 "
                            f"{list(empty.errors)}")
        outcomes.append(Validation(exercise.stem, tuple(failures), (ref, empty)))
    return outcomes
