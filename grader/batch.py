"""Grade many submissions in parallel; one broken submission costs that submission only."""

from __future__ import annotations

import glob
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable, Sequence

from nngrade.errors import SetupError, UsageError
from nngrade.grader.grade import Grader
from nngrade.grader.report import GradeReport, SubmissionReport


def collect(paths: Sequence[str]) -> list[Path]:
    """The notebook files named by files, folders (searched recursively) and globs.

    Raises UsageError for a name that matches nothing."""
    found: list[Path] = []
    for raw in paths:
        matches = [Path(m) for m in sorted(glob.glob(raw))] or [Path(raw)]
        if not any(m.exists() or m.is_symlink() for m in matches):
            raise UsageError(f"no such file or folder: {raw}")
        for match in matches:
            if match.is_dir():
                found += sorted(p for p in match.rglob("*.ipynb")
                                if ".ipynb_checkpoints" not in p.parts)
            else:
                found.append(match)
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def default_jobs() -> int:
    """One job per core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


def grade_all(paths: Iterable[Path], *, jobs: int = 1, grader: Grader | None = None,
              progress: Callable[[SubmissionReport], None] | None = None) -> GradeReport:
    """Grade every path with ``jobs`` submissions at a time, in the order given.

    Only a problem of the package itself (``SetupError``: a broken reference, missing data)
    stops the batch; everything a submission does ends up in its own report.
    """
    grader = grader or Grader()
    paths = list(paths)
    results: dict[int, SubmissionReport] = {}
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        futures = {pool.submit(grader.grade, path): i for i, path in enumerate(paths)}
        for future in as_completed(futures):
            try:
                report = future.result()
            except SetupError:
                for other in futures:
                    other.cancel()
                raise
            results[futures[future]] = report
            if progress:
                progress(report)
    return GradeReport(tuple(results[i] for i in range(len(paths))))
