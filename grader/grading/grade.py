"""Grade one notebook: read -> execute and run items -> compare -> report.

``Grader`` holds what a batch shares: the reference observations of each exercise (see
``expected``) and the limits. Student cells run in sandboxed children (``runs``,
``sandbox``); the notebook's own run goes on in a limited kernel at the same time.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nngrade.config import ANSWER_CHARS, METADATA_KEY
from nngrade.errors import NngradeError, ReferenceFailure, SubmissionError
from nngrade.grader.grading import compare, declaration
from nngrade.grader.grading import course as courses
from nngrade.grader.grading import expected
from nngrade.grader.sandbox import namespaces
from nngrade.grader.grading import kernel
from nngrade.grader.grading import notebook
from nngrade.grader.grading import requests
from nngrade.grader.sandbox import runner
from nngrade.grader.grading import solution
from nngrade.grader.sandbox.limits import Limits
from nngrade.grader.report import ItemResult, Status, SubmissionReport
from nngrade.grader.spec import Exercise, Item

# kinds of sandbox failure that are errors of the run (the item shows "error"); the others
# (missing, probe) are a wrong answer, and "internal" is the package's own failure
_RUN_ERRORS = {"exception", "timeout", "memory", "exit", "crash", "syntax", "too_big", "garbled",
               "unsendable", "forged", "thread"}


def _ensure_data(exercise: Exercise) -> None:
    """Fetch (or find) every data file now, in the grader: sandboxes run offline."""
    from nngrade.datasets import data_path

    for name in exercise.data:
        data_path(name)  # raises DatasetError (a SetupError) with where to put the file


def exercise_stem(declared: str | None, path: str | os.PathLike[str],
                  names: list[str] | None = None) -> str | None:
    """The exercise a notebook is graded as: the one its metadata declares, else the one its
    file name matches among ``names`` (default: the built-in course's) ("01_insurance_
    regression.ipynb", "01_mine.ipynb"), else None."""
    if declared:
        return declared
    name = Path(path).name
    for stem in courses.stems_or_none(None) if names is None else names:
        if stem in name or name.startswith(stem.split("_", 1)[0] + "_"):
            return stem
    return None


def _normalise(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


class Grader:
    """Grades notebooks; share one across a batch so the reference runs once."""

    def __init__(self, limits: Limits = Limits(timeout=120.0), kernel_limits: kernel.KernelLimits
                 = kernel.KernelLimits(), use_cache: bool = True,
                 private: tuple[str, ...] = (), course: courses.Course | None = None) -> None:
        """``limits.timeout`` caps every item's own timeout; ``kernel_limits`` bound the
        notebook's own run; ``private`` names folders student code must not see (the
        class's submissions, the output folder) besides the reference and caches;
        ``course`` is where exercises are found (default: the built-in course)."""
        self.limits = limits
        self.kernel_limits = kernel_limits
        self.course = course
        self.private = tuple(private) + (course.private if course else ())
        self.use_cache = use_cache
        self._refs: dict[str, expected.ReferenceRun] = {}
        self._lock = threading.Lock()
        # one fork server serves every exercise this grader may meet
        runner.preload([m for name in self.exercise_names() for m in
                        self.load_exercise(name).preload])

    def exercise_names(self) -> list[str]:
        """The stems of this grader's course (none where its reference is not installed)."""
        return courses.stems_or_none(self.course)

    def load_exercise(self, name: str) -> Exercise:
        """The declaration of one of this grader's course's exercises."""
        return (self.course or courses.builtin()).load_exercise(name)

    def version_of(self, notebook_bytes: bytes, path: str | os.PathLike[str]) -> str:
        """The fingerprint of the reference a notebook would be graded against ("" if none):
        part of a stored grade's key, so a changed reference re-grades. The exercise is found
        as grading finds it, from the metadata or else from the file name."""
        try:
            meta = json.loads(notebook_bytes).get("metadata", {}).get(METADATA_KEY, {})
            declared = meta.get("exercise") if isinstance(meta, dict) else None
        except (ValueError, AttributeError, RecursionError):
            declared = None
        stem = exercise_stem(declared if isinstance(declared, str) else None, path,
                             self.exercise_names())
        if stem is None:
            return ""
        try:
            return expected.fingerprint(self.load_exercise(stem))
        except NngradeError:
            return ""

    # --- the reference --------------------------------------------------------------------

    def reference(self, exercise: Exercise) -> expected.ReferenceRun:
        """The reference's observations for an exercise, computed once and cached."""
        with self._lock:
            if exercise.stem not in self._refs:
                declaration.check_names(exercise)
                _ensure_data(exercise)
                self._refs[exercise.stem] = expected.load_or_compute(
                    exercise, self.limits, self.kernel_limits, self.use_cache)
            return self._refs[exercise.stem]

    # --- one submission -------------------------------------------------------------------

    def grade(self, path: str | os.PathLike[str]) -> SubmissionReport:
        """Grade one notebook file; a broken file gives a report with errors, never raises
        for anything the submission contains."""
        started = time.monotonic()
        try:
            sub = notebook.read(path)
            stem = exercise_stem(sub.exercise, sub.path, self.exercise_names())
            if stem is None:
                raise SubmissionError("the notebook does not say which exercise it is "
                                      "(metadata.nngrade.exercise) and its file name does not "
                                      "match one")
            try:
                exercise = self.load_exercise(stem)
            except NngradeError:
                raise SubmissionError(f"the notebook claims to be exercise {stem!r}, "
                                      "which does not exist") from None
        except SubmissionError as exc:
            return SubmissionReport(str(path), None, 0.0, 0.0, errors=(str(exc),),
                                    seconds=time.monotonic() - started)
        return self.grade_submission(sub, exercise, started)

    def grade_submission(self, sub: notebook.Submission, exercise: Exercise,
                         started: float | None = None) -> SubmissionReport:
        """Grade a read notebook against an exercise."""
        started = time.monotonic() if started is None else started
        reference = self.reference(exercise)
        blank = solution.blank_sources(exercise)
        known = {item.id for item in exercise.items}
        problems = list(sub.problems)
        problems += [f"cell marked {i!r} is not an item of {exercise.stem}; it was ignored"
                     for i in sub.cells if i not in known]
        with ThreadPoolExecutor(1) as pool:
            hide = requests.hidden_paths((*self.private, os.path.dirname(os.path.abspath(sub.path))))
            execution = pool.submit(kernel.execute, sub.notebook,
                                    state_names=requests.state_names(exercise), limits=self.kernel_limits,
                                    env=requests.sandbox_env(), hide=hide)
            held: list[tuple[str, ...]] = []
            items = [self._grade_item(exercise, item, sub, blank, reference, held, hide)
                     for item in exercise.items]
            run = execution.result()
            if run.protections is not None:
                held.append(run.protections)
            items = [self._with_state(exercise, exercise.item(r.id), r, run, reference, sub,
                                      hide) for r in items]
        cell_errors = [e.describe() for e in run.cell_errors]
        if run.stopped:
            cell_errors.append(run.stopped)
        if run.output_truncated:
            problems.append("the notebook printed more output than is kept; the rest was dropped")
        score = sum(r.score for r in items)
        # a protection counts only if every sandboxed run of this notebook had it, its kernel too
        protections = tuple(p for p in namespaces.REPORTED if held and all(p in h for h in held))
        return SubmissionReport(sub.path, exercise.stem, score, exercise.max_score, tuple(items),
                                (), tuple(problems), tuple(cell_errors),
                                time.monotonic() - started, protections=protections)

    def grade_item(self, exercise: Exercise, item: Item, sub: notebook.Submission,
                   blank: dict[str, str], reference: expected.ReferenceRun,
                   hide: tuple[str, ...]) -> tuple[ItemResult, list[tuple[str, ...]]]:
        """One item's grade on its own cases only (no notebook run), with the protections
        each of its runs held: how a release's public checks are graded (``public``)."""
        held: list[tuple[str, ...]] = []
        return self._grade_item(exercise, item, sub, blank, reference, held, hide), held

    def _grade_item(self, exercise: Exercise, item: Item, sub: notebook.Submission,
                    blank: dict[str, str], reference: expected.ReferenceRun,
                    held: list[tuple[str, ...]], hide: tuple[str, ...]) -> ItemResult:
        def result(status: Status, message: str = "", hint: str = item.hint) -> ItemResult:
            score = item.points if status == "passed" else 0.0
            return ItemResult(item.id, score, item.points, status, message, hint)

        if item.manual:
            answer = sub.cells.get(item.id, "")
            if item.id in blank and _normalise(answer) == _normalise(blank[item.id]):
                return ItemResult(item.id, 0.0, 0.0, "manual", "not answered yet")
            return ItemResult(item.id, 0.0, 0.0, "manual", "collected for manual review",
                              answer=answer[:ANSWER_CHARS])
        source = sub.cells.get(item.id)
        if source is None:
            return result("error", f"no code cell is marked as item {item.id}; it may have been "
                                   "deleted or replaced: copy it back from the blank notebook")
        if item.id in blank and _normalise(source) == _normalise(blank[item.id]):
            return result("failed", "not answered yet: the cell still holds the blank template")
        for index, case in enumerate(item.cases):
            prefix = (f"on a hidden case ({case.describe}): " if case.hidden else
                      (f"on {case.describe}: " if len(item.cases) > 1 else ""))
            run = runner.run(requests.request(exercise, item, case, source, sub.imports, self.limits,
                                       hide))
            if run.protections is not None:
                held.append(run.protections)
            if run.status == "unfilled":
                return result("failed", run.message)
            if run.kind == "internal":
                raise ReferenceFailure(
                    f"nngrade's own inputs for {item.id} failed on {case.describe}: "
                    f"{run.message}. This is a problem of the package, not of the notebook",
                    path=sub.path, exercise=exercise.stem, item=item.id)
            if run.status == "error":
                status: Status = "error" if run.kind in _RUN_ERRORS else "failed"
                return result(status, prefix + run.message)
            for expect in item.expects:
                verdict = compare.check(expect, run.observation, reference.cases[(item.id, index)],
                                        hidden=case.hidden)
                if not verdict.ok:
                    return result("failed", prefix + verdict.message, expect.hint or item.hint)
        return result("passed")

    def _with_state(self, exercise: Exercise, item: Item, res: ItemResult, run: kernel.Execution,
                    reference: expected.ReferenceRun, sub: notebook.Submission,
                    hide: tuple[str, ...]) -> ItemResult:
        if res.status != "passed" or not item.state:
            return res
        found, expected_state = run.state, reference.state
        if item.trained is not None and not run.stopped:
            measured = self._measure_trained(exercise, item, run, sub, hide)
            if isinstance(measured, str):
                return ItemResult(res.id, 0.0, res.max_score, "failed", measured, item.hint)
            found, expected_state = measured, reference.state[expected.trained_key(item.id)]
        for expect in item.state:
            if run.stopped:
                message = f"{expect.what} could not be checked: {run.stopped}"
            elif expect.key not in found:
                message = (f"{expect.what} could not be checked: after running your whole "
                           f"notebook, `{expect.key}` is not defined")
            else:
                verdict = compare.check(expect, found, expected_state)
                if verdict.ok:
                    continue
                message = verdict.message + " (in your notebook's own run)"
            return ItemResult(res.id, 0.0, res.max_score, "failed", message,
                              expect.hint or item.hint)
        return res

    def _measure_trained(self, exercise: Exercise, item: Item, run: kernel.Execution,
                         sub: notebook.Submission, hide: tuple[str, ...]) -> Any:
        """What the ``trained`` probe measures of the notebook's trained module, or a sentence
        saying why it could not be measured."""
        trained = item.trained
        assert trained is not None
        what = f"the {trained.module} your notebook trained"
        weights = run.state.get(trained.module)
        if not isinstance(weights, dict) or not weights:
            return (f"{what} could not be checked: after running your whole notebook, "
                    f"`{trained.module}` is not a torch module with weights")
        source = sub.cells.get(trained.cell)
        if source is None:
            return f"{what} could not be checked: the cell of {trained.cell} is missing"
        measured = runner.run(requests.trained_request(exercise, item, source, weights,
                                                    sub.imports, self.limits, hide))
        if measured.status != "ok":
            return f"{what} could not be checked: {measured.message}"
        return measured.observation
