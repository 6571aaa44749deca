"""Checking a notebook with a student release only: its public checks, in the same sandbox,
with the same messages, and never a claim beyond them.

The release (``release``) gives, per exercise, a declaration without hidden cases, the
reference's observations on the public cases and the public part of the cases modules. Here
they become an ``Exercise`` whose cases module is the release's (mounted by name in each
child, as a course's is) and a ``ReferenceRun`` of those observations; each public case is
then graded by the same ``Grader.grade_item`` as in a full grade. Nothing here imports
``nngrade.reference``: a student's install without it checks this way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nngrade.errors import NngradeError, ReleaseError, SubmissionError
from nngrade.grader.grading import expected, kernel, notebook, requests
from nngrade.grader.grading.grade import Grader, exercise_stem
from nngrade.grader.grading.release import FORMAT, MARKER
from nngrade.grader.report import ItemResult, SubmissionReport
from nngrade.grader.sandbox import namespaces, runner, wire
from nngrade.grader.spec import Case, Exercise, Expect, Item, Origin


@dataclass(frozen=True)
class PublicExercise:
    """One exercise of a release: the public declaration, the reference's observations on
    its public cases (keyed as a ``ReferenceRun``), and per item how many cases the full
    declaration has and how many of its checks are hidden."""

    exercise: Exercise
    blank: dict[str, str]
    observations: dict[tuple[str, int], Any]
    cases_total: dict[str, int]
    hidden: dict[str, int]
    fingerprint: str


@dataclass(frozen=True)
class Release:
    """A release folder, as its marker describes it."""

    root: Path
    course: str
    exercises: tuple[str, ...]

    @property
    def private(self) -> tuple[str, ...]:
        """What student code need not read: the public checks and cases (a cell that read the
        expected observations could echo them)."""
        return (str(self.root / "checks"), str(self.root / "cases"))

    def load(self, stem: str) -> PublicExercise:
        """The public checks of one exercise of the release."""
        try:
            data = wire.loads((self.root / "checks" / f"{stem}.json").read_bytes())
        except (OSError, wire.ObservationError) as exc:
            raise ReleaseError(f"the release {self.root} has no readable checks for {stem}: "
                               f"{exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ReleaseError(f"the checks of {stem} in {self.root} are not of format {FORMAT}")
        package = "nngrade_release_" + hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        origin = Origin(str(self.root / "exercises" / f"{stem}.ipynb"),
                        str(self.root / "cases"), ((package, str(self.root / "cases")),))
        items, observations, totals, hidden = [], {}, {}, {}
        try:
            for record in data["items"]:
                cases = tuple(Case(c["build"], c["probe"], c["describe"], False,
                                   c["args"], int(c["seed"])) for c in record["public"])
                for index, case in enumerate(record["public"]):
                    observations[(record["id"], index)] = case["expected"]
                items.append(Item(
                    id=record["id"], points=float(record["points"]),
                    reads=tuple(record["reads"]), writes=tuple(record["writes"]), cases=cases,
                    expects=tuple(Expect(**e) for e in record["expects"]),
                    hint=record["hint"], manual=bool(record["manual"]),
                    timeout=float(record["timeout"])))
                totals[record["id"]] = int(record["cases_total"])
                hidden[record["id"]] = int(record["hidden_checks"])
            exercise = Exercise(stem=data["stem"], title=data["title"], items=tuple(items),
                                cases_module=f"{package}.{data['cases_module']}", solution={},
                                preamble=data["preamble"], data=tuple(data["data"]),
                                preload=tuple(data["preload"]), origin=origin)
            blank = {str(k): str(v) for k, v in data["blank"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReleaseError(f"the checks of {stem} in {self.root} are damaged: "
                               f"{type(exc).__name__}: {exc}") from None
        return PublicExercise(exercise, blank, observations, totals, hidden,
                              str(data["fingerprint"]))


def open_release(path: str | os.PathLike[str]) -> Release:
    """The release in the folder ``path`` (a ReleaseError if it is not one)."""
    root = Path(path).expanduser().resolve()
    try:
        manifest = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ReleaseError(f"{root} is not a release: it has no readable {MARKER}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ReleaseError(f"{root / MARKER} is not of the format {FORMAT}; this nngrade "
                           "cannot read it")
    return Release(root, str(manifest.get("course", "")), tuple(manifest.get("exercises", ())))


def find_release(notebook_path: str | os.PathLike[str]) -> Path | None:
    """The release a notebook belongs to: the nearest folder at or above the notebook's with
    the marker file, or a folder right next to the notebook that has it."""
    here = Path(notebook_path).expanduser().resolve().parent
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return folder
    beside = sorted(p for p in (here.iterdir() if here.is_dir() else ())
                    if p.is_dir() and (p / MARKER).is_file())
    return beside[0] if beside else None


def _normalise(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _grade_item(grader: Grader, public: PublicExercise, item: Item, sub: notebook.Submission,
                blank: dict[str, str], hide: tuple[str, ...],
                held: list[tuple[str, ...]]) -> tuple[ItemResult, int, int]:
    """An item's result on its public cases, and (checks run, checks passed)."""
    exercise = public.exercise
    if item.manual:
        return grader.grade_item(exercise, item, sub, blank, expected.ReferenceRun({}, {}),
                                 hide)[0], 0, 0
    if not item.cases:
        return (ItemResult(item.id, 0.0, item.points, "unchecked", "this item has hidden checks "
                           "only: they run when your instructor grades"), 0, 0)
    source = sub.cells.get(item.id)
    unanswered = source is None or (item.id in blank
                                    and _normalise(source) == _normalise(blank[item.id]))
    first: ItemResult | None = None
    passed = 0
    for index, case in enumerate(item.cases):
        one = dataclasses.replace(item, cases=(case,))
        reference = expected.ReferenceRun({(item.id, 0): public.observations[(item.id, index)]},
                                          {})
        result, protections = grader.grade_item(exercise, one, sub, blank, reference, hide)
        held += protections
        if result.status == "passed":
            passed += 1
        elif first is None:
            if public.cases_total[item.id] > 1 and not unanswered and result.message:
                result = dataclasses.replace(result, message=f"on {case.describe}: "
                                                             f"{result.message}")
            first = result
        if unanswered:  # the same sentence for every case: no need to run them all
            break
    return (first or result), len(item.cases), passed


def grade(grader: Grader, path: str | os.PathLike[str], release: Release) -> SubmissionReport:
    """Grade one notebook on the release's public checks; a report in ``public`` scope."""
    started = time.monotonic()
    try:
        sub = notebook.read(path)
        stem = exercise_stem(sub.exercise, sub.path, list(release.exercises))
        if stem is None or stem not in release.exercises:
            raise SubmissionError(f"the notebook is not one of the exercises of the release "
                                  f"{release.root} ({', '.join(release.exercises)})")
    except SubmissionError as exc:
        return SubmissionReport(str(path), None, 0.0, 0.0, errors=(str(exc),),
                                seconds=time.monotonic() - started, scope="public")
    public = release.load(stem)
    exercise = public.exercise
    runner.preload(exercise.preload)  # only where the fork server has not started yet
    blank = public.blank
    known = {item.id for item in exercise.items}
    problems = list(sub.problems)
    problems += [f"cell marked {i!r} is not an item of {stem}; it was ignored"
                 for i in sub.cells if i not in known]
    hide = requests.hidden_paths((*grader.private, *release.private,
                                  os.path.dirname(os.path.abspath(sub.path))))
    held: list[tuple[str, ...]] = []
    items, run, passed = [], 0, 0
    # as in a full check: the notebook's own run, for the cells that raise (no check needs it)
    with ThreadPoolExecutor(1) as pool:
        execution = pool.submit(kernel.execute, sub.notebook, limits=grader.kernel_limits,
                                env=requests.sandbox_env(), hide=hide) if grader.execute else None
        for item in exercise.items:
            result, ran, ok = _grade_item(grader, public, item, sub, blank, hide, held)
            items.append(result)
            run, passed = run + ran, passed + ok
        whole = execution.result() if execution else kernel.Execution()
    if whole.protections is not None:
        held.append(whole.protections)
    cell_errors = [e.describe() for e in whole.cell_errors] + ([whole.stopped]
                                                               if whole.stopped else [])
    # where nothing ran (every item unanswered) no protection was missing
    protections = tuple(p for p in namespaces.REPORTED if all(p in h for h in held))
    hidden = sum(n for item_id, n in public.hidden.items() if not exercise.item(item_id).manual)
    return SubmissionReport(sub.path, stem, sum(r.score for r in items), exercise.max_score,
                            tuple(items), (), tuple(problems), tuple(cell_errors),
                            time.monotonic() - started, protections=protections,
                            executed=execution is not None, scope="public", hidden_not_run=hidden,
                            public_checks=run, public_passed=passed)

