"""The instructor's self-test: the reference gets full marks, the blank notebook zero without
a crash, and grading the same notebook twice gives the same grade."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from nngrade.grader.grading import notebook, solution
from nngrade.grader.grading.course import Course
from nngrade.grader.grading.grade import Grader
from nngrade.grader.report import SubmissionReport


@dataclass(frozen=True)
class Validation:
    """The outcome of validating one exercise: a list of failures (empty: all good)."""

    exercise: str
    failures: tuple[str, ...]
    reports: tuple[SubmissionReport, ...]


def imported_modules(statements: Sequence[str]) -> list[str]:
    """The modules that import statements load, outside the standard library, in order."""
    names: list[str] = []
    for statement in statements:
        for node in ast.walk(ast.parse(statement)):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found = [node.module]
            else:
                continue
            names += [n for n in found if n.partition(".")[0] not in sys.stdlib_module_names
                      and n not in names]
    return names


def unloaded(preload: Sequence[str], modules: Sequence[str]) -> list[str]:
    """Those of ``modules`` that importing ``preload`` leaves unloaded, found in a fresh
    interpreter as the fork server's: each of them is imported again by every item run of a
    cell whose notebook imports it (0.7 s a sandbox for ``sklearn.datasets``)."""
    if not modules:
        return []
    code = ("import importlib, json, sys\n"
            f"for name in {list(preload)!r}:\n"
            "    try:\n        importlib.import_module(name)\n"
            "    except Exception:\n        pass\n"
            f"print(json.dumps([m for m in {list(modules)!r} if m not in sys.modules]))")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=False, timeout=300)
    if done.returncode != 0:
        return []  # the preload itself broke: the reference's own run says how
    return [str(m) for m in json.loads(done.stdout.strip().splitlines()[-1])]


def _summary(report: SubmissionReport) -> list[tuple]:
    return [(i.id, i.score, i.status, i.message) for i in report.items]


def validate(names: list[str] | None = None, grader: Grader | None = None,
             course: Course | None = None) -> list[Validation]:
    """Validate the named exercises of ``course`` (default: the built-in one; all exercises
    by default)."""
    # a self-test must run the reference for real, and the whole notebook too: its own run
    # must raise nothing even where no check needs it
    grader = grader or Grader(use_cache=False, execute=True, course=course)
    outcomes = []
    for name in names or grader.exercise_names():
        exercise = grader.load_exercise(name)
        failures: list[str] = []
        with tempfile.TemporaryDirectory(prefix="nngrade-validate-") as tmp:
            filled = solution.write_solution(exercise, Path(tmp) / f"{exercise.stem}.ipynb")
            blank = Path(tmp) / "blank" / f"{exercise.stem}.ipynb"
            blank.parent.mkdir()
            blank.write_text(solution.blank_notebook_text(exercise), encoding="utf-8")
            ref, ref_again, empty = (grader.grade(filled), grader.grade(filled), grader.grade(blank))
            missing = unloaded(exercise.preload, imported_modules(notebook.read(blank).imports))
        if missing:
            failures.append(f"the notebook imports {', '.join(missing)}, which the exercise's "
                            "preload does not load: every item run would import "
                            f"{'it' if len(missing) == 1 else 'them'} again (add "
                            f"{', '.join(repr(m) for m in missing)} to preload=)")
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
