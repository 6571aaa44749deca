"""Grade one notebook: read -> execute and run items -> compare -> report.

``Grader`` holds what a batch shares: the reference observations of each exercise (see
``expected``) and the limits. Student cells run in sandboxed children (``runs``,
``sandbox``); the notebook's own run goes on in a limited kernel at the same time.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from nngrade.config import ANSWER_CHARS, FIGURE_KEY, METADATA_KEY
from nngrade.errors import NngradeError, ReferenceFailure, SubmissionError
from nngrade.grader.grading import course as courses
from nngrade.grader.grading import expected
from nngrade.grader.sandbox.limits import Limits
from nngrade.grader.report import ItemResult, Status, SubmissionReport
from nngrade.grader.spec import Exercise, Item


class _OnUse:
    """A module imported when one of its names is first used.

    What grades a notebook (numpy, nbformat under ``notebook`` and ``solution``, the sandbox's
    runner, the kernel) costs about 250 ms to import, and a re-run whose grades are all stored
    (``batch`` with a ``store``) needs none of it, only ``version_of``."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        # the import system's own path, safe across the batch's threads (one that asks while
        # another imports waits for it); once imported, a look-up in sys.modules
        return getattr(importlib.import_module(self._name), attr)


if TYPE_CHECKING:
    import numpy as np

    from nngrade.grader.grading import compare, declaration
    from nngrade.grader.sandbox import namespaces
    from nngrade.grader.grading import kernel
    from nngrade.grader.grading import notebook
    from nngrade.grader.grading import requests
    from nngrade.grader.sandbox import runner
    from nngrade.grader.grading import solution
else:
    np = _OnUse("numpy")
    compare = _OnUse("nngrade.grader.grading.compare")
    declaration = _OnUse("nngrade.grader.grading.declaration")
    namespaces = _OnUse("nngrade.grader.sandbox.namespaces")
    kernel = _OnUse("nngrade.grader.grading.kernel")
    notebook = _OnUse("nngrade.grader.grading.notebook")
    requests = _OnUse("nngrade.grader.grading.requests")
    runner = _OnUse("nngrade.grader.sandbox.runner")
    solution = _OnUse("nngrade.grader.grading.solution")


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


def _figure(observation: Any) -> str:
    """The PNG a probe rendered of the student's figure (``FIGURE_KEY``), as base64 text."""
    png = observation.get(FIGURE_KEY) if isinstance(observation, dict) else None
    if isinstance(png, np.ndarray) and png.dtype == np.uint8 and png.ndim == 1:
        data = png.tobytes()
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return base64.b64encode(data).decode("ascii")
    return ""


class _Clock:
    """Seconds per stage of one submission, for the benchmark's breakdown."""

    def __init__(self, started: float) -> None:
        self.laps: dict[str, float] = {}
        self._last = started
        self._lock = threading.Lock()

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.add(stage, now - self._last)
        self._last = now

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:  # a submission's items may end side by side
            self.laps[stage] = self.laps.get(stage, 0.0) + seconds


def _normalise(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


class Grader:
    """Grades notebooks; share one across a batch so the reference runs once."""

    def __init__(self, limits: Limits = Limits(timeout=120.0),
                 kernel_limits: kernel.KernelLimits | None = None, use_cache: bool = True,
                 private: tuple[str, ...] = (), execute: bool = False,
                 course: courses.Course | None = None) -> None:
        """``limits.timeout`` caps every item's own timeout; ``kernel_limits`` bound the
        notebook's own run (default: ``kernel.KernelLimits()``); ``private`` names folders
        student code must not see (the class's submissions, the output folder) besides the
        reference and caches.
        ``execute`` runs every notebook as a whole even when no check needs its run (for the
        cell errors in the feedback and the executed notebook); otherwise only the
        exercises whose items check what the notebook trained pay for it. ``course`` is
        where exercises are found (default: the built-in course)."""
        self.limits = limits
        self._kernel_limits = kernel_limits
        self.course = course
        self.private = tuple(private) + (course.private if course else ())
        self.use_cache = use_cache
        self.execute = execute
        self._refs: dict[str, expected.ReferenceRun] = {}
        self._versions: dict[str, str] = {}
        self._lock = threading.Lock()
        self._spares: kernel.Spares | None = None

    @property
    def kernel_limits(self) -> kernel.KernelLimits:
        """The bounds of a notebook's own run (the default ones made on first use: they live
        in ``kernel``, which a re-run of stored grades does not import)."""
        if self._kernel_limits is None:
            self._kernel_limits = kernel.KernelLimits()
        return self._kernel_limits

    def exercise_names(self) -> list[str]:
        """The stems of this grader's course (none where its reference is not installed)."""
        return courses.stems_or_none(self.course)

    def load_exercise(self, name: str) -> Exercise:
        """The declaration of one of this grader's course's exercises."""
        return (self.course or courses.builtin()).load_exercise(name)

    def prepare(self, stems: Sequence[str], submissions: int = 0) -> None:
        """Ready the warm path for these exercises before the first submission: the fork
        server preloads what they declare (only that: a NumPy exercise does not wait for
        torch) and starts in the background; unknown names are left to grading to report.
        Where ``submissions`` notebooks will be run whole, kernels are started one ahead
        (at most that many); ``close`` stops the last spare."""
        if not stems:
            return  # nothing to grade: a re-run of stored grades forks nothing
        known: list[Exercise] = []
        for stem in dict.fromkeys(stems):
            try:
                known.append(self.load_exercise(stem))
            except NngradeError:
                continue
        runner.preload([m for exercise in known for m in exercise.preload])
        runner.start_server()
        runs = [e for e in known if self.execute or e.needs_run]
        if runs and submissions > 0:
            # the first run's kernel, with what its exercise imports already loaded
            first = runs[0].preload
            self.close()
            self._spares = kernel.Spares(budget=submissions)
            # a batch's submission folders are among ``private``, so this is the kernel
            # its first run asks for
            self._spares.ahead(limits=self.kernel_limits, env=requests.sandbox_env(),
                               hide=requests.hidden_paths(self.private), preload=first)

    def close(self) -> None:
        """Stop the kernel started ahead, if any (grading can go on, without spares)."""
        spares, self._spares = self._spares, None
        if spares is not None:
            spares.close()

    def exercise_of(self, notebook_bytes: bytes, path: str | os.PathLike[str]) -> str | None:
        """The exercise a notebook would be graded as, read as grading reads it (metadata,
        else the file name); None when it names none."""
        try:
            meta = json.loads(notebook_bytes).get("metadata", {}).get(METADATA_KEY, {})
            declared = meta.get("exercise") if isinstance(meta, dict) else None
        except (ValueError, AttributeError, RecursionError):
            declared = None
        return exercise_stem(declared if isinstance(declared, str) else None, path,
                             self.exercise_names())

    def version_of(self, notebook_bytes: bytes, path: str | os.PathLike[str]) -> str:
        """The fingerprint of the reference a notebook would be graded against ("" if none):
        part of a stored grade's key, so a changed reference re-grades. The exercise is found
        as grading finds it, from the metadata or else from the file name."""
        stem = self.exercise_of(notebook_bytes, path)
        if stem is None:
            return ""
        if stem not in self._versions:  # hashing the reference tree once per batch, not per file
            try:
                self._versions[stem] = expected.fingerprint(self.load_exercise(stem))
            except NngradeError:
                self._versions[stem] = ""
        return self._versions[stem]

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
        clock = _Clock(started)
        runner.preload(exercise.preload)  # in effect if nothing has started the server yet
        # its imports (most of a lone notebook's check) go on while the reference is loaded
        runner.start_server()
        reference = self.reference(exercise)
        clock.lap("reference")
        blank = solution.blank_sources(exercise)
        known = {item.id for item in exercise.items}
        problems = list(sub.problems)
        problems += [f"cell marked {i!r} is not an item of {exercise.stem}; it was ignored"
                     for i in sub.cells if i not in known]
        whole = self.execute or exercise.needs_run
        with ThreadPoolExecutor(1) as pool:
            hide = requests.hidden_paths((*self.private, os.path.dirname(os.path.abspath(sub.path))))
            execution = pool.submit(kernel.execute, sub.notebook,
                                    state_names=requests.state_names(exercise),
                                    limits=self.kernel_limits, env=requests.sandbox_env(),
                                    hide=hide, spares=self._spares,
                                    preload=exercise.preload) if whole else None
            held: list[tuple[str, ...]] = []
            items = self._grade_items(exercise, sub, blank, reference, held, hide, clock)
            clock.lap("items")
            run = execution.result() if execution else kernel.Execution()
            clock.lap("waiting for the notebook's run")
            if run.protections is not None:
                held.append(run.protections)
            items = [self._with_state(exercise, exercise.item(r.id), r, run, reference, sub,
                                      hide) for r in items]
            clock.lap("trained checks")
        cell_errors = [e.describe() for e in run.cell_errors]
        if run.stopped:
            cell_errors.append(run.stopped)
        if run.output_truncated:
            problems.append("the notebook printed more output than is kept; the rest was dropped")
        score = sum(r.score for r in items)
        # a protection counts only if every sandboxed run of this notebook that reported had
        # it, its kernel too; where nothing ran (every cell left blank) none was missing
        protections = tuple(p for p in namespaces.REPORTED if all(p in h for h in held))
        timings = clock.laps
        if whole:
            timings.update({"kernel start": run.startup_seconds,
                            "notebook cells": run.seconds - run.startup_seconds})
        return SubmissionReport(sub.path, exercise.stem, score, exercise.max_score, tuple(items),
                                (), tuple(problems), tuple(cell_errors),
                                time.monotonic() - started, protections=protections,
                                executed=whole, timings=timings, notebook=run.notebook)

    def _grade_items(self, exercise: Exercise, sub: notebook.Submission,
                     blank: dict[str, str], reference: expected.ReferenceRun,
                     held: list[tuple[str, ...]], hide: tuple[str, ...],
                     clock: "_Clock") -> list[ItemResult]:
        """Every item's result, in the declaration's order. Where a batch shares the cores
        among sandboxes (``runner.share``), the items wait for a free one side by side, so
        a core another submission leaves idle is taken; otherwise one after the other."""
        def one(item: Item) -> ItemResult:
            return self._grade_item(exercise, item, sub, blank, reference, held, hide, clock)

        if runner.slots() <= 1 or len(exercise.items) <= 1:
            return [one(item) for item in exercise.items]
        with ThreadPoolExecutor(len(exercise.items)) as pool:
            return list(pool.map(one, exercise.items))

    def grade_item(self, exercise: Exercise, item: Item, sub: notebook.Submission,
                   blank: dict[str, str], reference: expected.ReferenceRun,
                   hide: tuple[str, ...]) -> tuple[ItemResult, list[tuple[str, ...]]]:
        """One item's grade on its own cases only (no notebook run), with the protections
        each of its runs held: how a release's public checks are graded (``public``)."""
        held: list[tuple[str, ...]] = []
        return self._grade_item(exercise, item, sub, blank, reference, held, hide), held

    def _grade_item(self, exercise: Exercise, item: Item, sub: notebook.Submission,
                    blank: dict[str, str], reference: expected.ReferenceRun,
                    held: list[tuple[str, ...]], hide: tuple[str, ...],
                    clock: "_Clock | None" = None) -> ItemResult:
        clock = clock or _Clock(time.monotonic())
        figure = ""

        def result(status: Status, message: str = "", hint: str = item.hint) -> ItemResult:
            score = item.points if status == "passed" else 0.0
            return ItemResult(item.id, score, item.points, status, message, hint,
                              figure=figure)

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
        batch = [requests.request(exercise, item, case, source, sub.imports, self.limits, hide)
                 for case in item.cases]
        runs = runner.run_cases(batch) if batch else []
        for index, (case, run) in enumerate(zip(item.cases, runs)):
            prefix = (f"on a hidden case ({case.describe}): " if case.hidden else
                      (f"on {case.describe}: " if len(item.cases) > 1 else ""))
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
            figure = figure or _figure(run.observation)
            compared = time.monotonic()
            for expect in item.expects:
                verdict = compare.check(expect, run.observation, reference.cases[(item.id, index)],
                                        hidden=case.hidden)
                if not verdict.ok:
                    return result("failed", prefix + verdict.message, expect.hint or item.hint)
            clock.add("comparison", time.monotonic() - compared)
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
