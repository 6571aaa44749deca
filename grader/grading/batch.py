"""Grade many submissions in parallel; one broken submission costs that submission only.

Finished grades are stored one file per submission (``store``), keyed by the notebook's
content and the grader's and reference's versions, so a re-run grades only what changed and
an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from nngrade.errors import UsageError
from nngrade.grader.grading.grade import Grader
from nngrade.grader.report import GradeReport, SubmissionReport
from nngrade.grader.grading.store import ResultStore
from nngrade.grader.grading.course import Course, stems_or_none


@dataclass(frozen=True)
class Target:
    """A notebook to grade and the student it belongs to."""

    path: Path
    student: str


def collect(paths: Sequence[str], course: Course | None = None) -> list[Target]:
    """The notebooks named by files, folders (searched recursively) and globs.

    In a folder of student folders (``<student>/<notebook>.ipynb``, as nbgrader and GitHub
    Classroom lay them out) the student is the folder's name; a loose notebook's student is
    its file name, unless it is named for an exercise of ``course`` (the course being graded;
    default: the built-in one). Raises UsageError for a name that matches nothing."""
    stems = set(stems_or_none(course))
    found: list[Target] = []
    for raw in paths:
        matches = [Path(m) for m in sorted(glob.glob(raw))] or [Path(raw)]
        if not any(m.exists() or m.is_symlink() for m in matches):
            raise UsageError(f"no such file or folder: {raw}")
        for match in matches:
            if match.is_dir():
                for nb in sorted(match.rglob("*.ipynb")):
                    if ".ipynb_checkpoints" in nb.parts:
                        continue
                    rel = nb.relative_to(match)
                    found.append(Target(nb, rel.parts[0] if len(rel.parts) > 1 else nb.stem))
            else:
                found.append(Target(match, _student_of_file(match, stems)))
    unique: dict[Path, Target] = {}
    for target in found:
        unique.setdefault(target.path, target)
    return list(unique.values())


def _student_of_file(path: Path, stems: set[str]) -> str:
    # "alice/01_insurance_regression.ipynb": the folder names the student, not the file
    return path.parent.name if path.stem in stems and path.parent.name else path.stem


def exercises_to_grade(targets: Iterable[Target], grader: Grader,
                       store: ResultStore | None = None) -> list[str]:
    """The exercises of the targets that will really be graded (not already in ``store``),
    in first-seen order: what the warm path must prepare for."""
    stems: list[str] = []
    for target in targets:
        if store:
            key = store.key(target.path, grader)
            if key and store.has(key):
                continue
        try:
            stem = grader.exercise_of(target.path.read_bytes(), target.path)
        except OSError:
            continue
        if stem and stem not in stems:
            stems.append(stem)
    return stems


def default_jobs() -> int:
    """One job per core this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def grade_all(targets: Iterable[Target], *, jobs: int = 1, grader: Grader | None = None,
              store: ResultStore | None = None,
              progress: Callable[[SubmissionReport], None] | None = None) -> GradeReport:
    """Grade every target with ``jobs`` submissions at a time; reports keep the given order.

    With a ``store``, a submission graded before (same content, same grader and reference)
    is not graded again. Only a problem of the package itself (``SetupError``: a broken
    reference, missing data) stops the batch; everything a submission does ends up in its
    own report.
    """
    grader = grader or Grader()
    targets = list(targets)
    stems = exercises_to_grade(targets, grader, store)
    # a kernel started ahead overlaps the previous submission only where a core is idle
    ahead = len(targets) if stems and jobs < (os.cpu_count() or 1) else 0
    grader.prepare(stems, submissions=ahead)
    if stems:
        from nngrade.grader.sandbox import runner  # not imported for stored grades alone

        # the cores are shared by sandboxes, not by submissions: while fewer submissions
        # than jobs are left (the last one of a batch), their items take the free cores
        runner.share(jobs)
    try:
        return _grade_each(targets, jobs, grader, store, progress)
    finally:
        grader.close()
        if stems:
            runner.share(0)


def _grade_each(targets: list[Target], jobs: int, grader: Grader, store: ResultStore | None,
                progress: Callable[[SubmissionReport], None] | None) -> GradeReport:
    results: dict[int, SubmissionReport] = {}

    def grade_one(target: Target) -> SubmissionReport:
        key = store.key(target.path, grader) if store else None
        if store and key:
            stored = store.load(key)
            if stored is not None:
                return dataclasses.replace(stored, path=str(target.path), student=target.student)
        report = dataclasses.replace(grader.grade(target.path), student=target.student)
        if store and key:
            store.save(key, report)
        return report

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        futures = {pool.submit(grade_one, t): i for i, t in enumerate(targets)}
        try:
            for future in as_completed(futures):
                report = future.result()
                results[futures[future]] = report
                if progress:
                    progress(report)
        except BaseException:
            # Ctrl-C or a broken reference: stop now; what finished is already stored
            for other in futures:
                other.cancel()
            raise
    return GradeReport(tuple(results[i] for i in range(len(targets))))
