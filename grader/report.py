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

# "unchecked": in public scope, an item whose checks are all hidden
Status = Literal["passed", "failed", "error", "manual", "unchecked"]
Scope = Literal["full", "public"]


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
    # "public": graded from a release's public checks only (``hidden_not_run`` hidden checks
    # were not run); "full": against the reference, hidden cases included
    scope: Scope = "full"
    hidden_not_run: int = 0
    public_checks: int = 0  # in public scope: how many public checks ran, and passed
    public_passed: int = 0

    @property
    def graded(self) -> bool:
        """True when the notebook was graded (whatever the score)."""
        return not self.errors

    @property
    def full_marks(self) -> bool:
        """True when every automatic point was earned."""
        return self.graded and self.score >= self.max_score

    @property
    def public_summary(self) -> str:
        """In public scope, what was and was not checked ("4 of 6 public checks pass; 9 hidden
        checks run when your instructor grades"); "" in full scope."""
        if self.scope != "public":
            return ""
        one = self.hidden_not_run == 1
        hidden = (f"{self.hidden_not_run} hidden check{'' if one else 's'} "
                  f"run{'s' if one else ''} when your instructor grades"
                  if self.hidden_not_run else "there are no hidden checks")
        return f"{self.public_passed} of {self.public_checks} public checks pass; {hidden}"


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
