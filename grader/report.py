"""Grade reports: the typed result of grading, and its JSON form (the contract).

Renderings for people live in ``nngrade.grader.outputs``.

The JSON shape is a contract (DESIGN.md): ``{"submissions": [{"path", "exercise", "score",
"max_score", "items": [{"id", "score", "max_score", "status", "message"}], "errors"}]}``.
Keys may be added, never removed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Iterable, Literal, Mapping

Status = Literal["passed", "failed", "error", "manual"]


@dataclass(frozen=True)
class ItemResult:
    """The grade of one item, with a message a student can act on."""

    id: str
    score: float
    max_score: float
    status: Status
    message: str = ""
    hint: str = ""
    answer: str = ""  # the student's text, for manual items only
    figure: str = ""  # the figure the student's cell drew (base64 PNG), for review only


@dataclass(frozen=True)
class SubmissionReport:
    """The grade of one notebook. ``errors`` non-empty means it could not be graded."""

    path: str
    exercise: str | None
    score: float
    max_score: float
    items: tuple[ItemResult, ...] = ()
    errors: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    cell_errors: tuple[str, ...] = ()
    seconds: float = 0.0
    student: str = ""
    protections: tuple[str, ...] = ()
    # False: the grade came from the item runs alone, the notebook was not run as a whole
    executed: bool = False
    timings: Mapping[str, float] = field(default_factory=dict)  # seconds per stage
    notebook: str = ""  # the executed notebook (nbformat JSON), for review only

    @property
    def graded(self) -> bool:
        """True when the notebook was graded (whatever the score)."""
        return not self.errors

    @property
    def full_marks(self) -> bool:
        """True when every automatic point was earned."""
        return self.graded and self.score >= self.max_score


def submission_from_dict(data: dict) -> SubmissionReport:
    """Rebuild a report from its JSON form (a stored result from an earlier run)."""
    items = tuple(ItemResult(**item) for item in data.get("items", ()))
    fields = {k: v for k, v in data.items() if k in SubmissionReport.__dataclass_fields__}
    fields.update(items=items, errors=tuple(data.get("errors", ())),
                  protections=tuple(data.get("protections", ())),
                  problems=tuple(data.get("problems", ())),
                  cell_errors=tuple(data.get("cell_errors", ())))
    return SubmissionReport(**fields)


@dataclass(frozen=True)
class GradeReport:
    """The grades of a batch of submissions."""

    submissions: tuple[SubmissionReport, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        """The JSON contract, as plain data (without what is kept for review only: the
        executed notebook and the figures, which ``--out`` writes beside it)."""
        return {"submissions": [_contract(s) for s in self.submissions]}


def _contract(sub: SubmissionReport) -> dict:
    data = asdict(sub)
    data.pop("notebook")
    for item in data["items"]:
        item.pop("figure")
    return data


def to_json(report: GradeReport) -> str:
    """The report as JSON text."""
    return json.dumps(report.to_dict(), indent=2)


def missing_protections(subs: Iterable[SubmissionReport], expected: Iterable[str]) -> list[str]:
    """The protections that were not in force for at least one graded submission."""
    wanted = list(expected)
    graded = [s for s in subs if s.graded and s.items]
    return [p for p in wanted if any(p not in s.protections for s in graded)]
