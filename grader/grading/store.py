"""Finished grades on disk, one file per submission, written atomically.

A result's key hashes the notebook's bytes, the package version and the fingerprint of the
reference of the exercise it declares, so changing any of them re-grades; an interrupted
run keeps every grade finished before the interruption.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import nngrade
from nngrade.grader.report import SubmissionReport, submission_from_dict

if TYPE_CHECKING:
    from nngrade.grader.grading.grade import Grader


class ResultStore:
    """Stored grades in ``folder``."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def key(self, path: Path, grader: "Grader") -> str | None:
        """The content key of a submission; None when the file cannot be read (not stored)."""
        try:
            data = path.read_bytes()
        except OSError:
            return None
        digest = hashlib.sha256(data)
        digest.update(nngrade.__version__.encode())
        digest.update(grader.version_of(data, path).encode())
        # a run that executed every notebook keeps more (cell errors, the executed notebook)
        digest.update(b"executed" if grader.execute else b"")
        return digest.hexdigest()[:32]

    def has(self, key: str) -> bool:
        """True when a report is stored for ``key`` (it may still turn out damaged)."""
        return (self.folder / f"{key}.json").is_file()

    def load(self, key: str) -> SubmissionReport | None:
        """The stored report for ``key``, or None (missing or damaged: grade again)."""
        try:
            return submission_from_dict(json.loads((self.folder / f"{key}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, key: str, report: SubmissionReport) -> None:
        """Store a report atomically: a crash leaves the old file or the new, never half."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(report), out)
        os.replace(tmp, self.folder / f"{key}.json")
