"""Terminal text of a report: the feedback on one notebook, and a class's grade table."""

from __future__ import annotations

from typing import Iterable

from nngrade.grader.report import SubmissionReport

NOT_RUN = ("Your notebook was not run as a whole: each item was graded by running its cell "
           "alone, with nngrade's inputs.")

_MARK = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "manual": "MANUAL"}


def _points(value: float) -> str:
    return f"{value:g}"


def render_submission(sub: SubmissionReport) -> str:
    """Feedback on one notebook for a person: each item, why points were lost, and hints."""
    lines = [f"{sub.path}  [{sub.exercise or 'unknown exercise'}]"]
    if sub.errors:
        lines += [f"  could not be graded: {e}" for e in sub.errors]
        return "\n".join(lines)
    for item in sub.items:
        lines.append(f"  {_MARK[item.status]:6} {item.id:28} "
                     f"{_points(item.score)}/{_points(item.max_score)}")
        if item.message:
            lines.append(f"         {item.message}")
        if item.hint and item.status != "passed":
            lines.append(f"         hint: {item.hint}")
    for problem in sub.problems:
        lines.append(f"  note: {problem}")
    if sub.cell_errors:
        lines.append("  your notebook's own run:")
        lines += [f"    {e}" for e in sub.cell_errors]
    if not sub.executed:
        lines.append(f"  note: {NOT_RUN}")
    lines.append(f"  Points {_points(sub.score)}/{_points(sub.max_score)}")
    return "\n".join(lines)


def render_table(subs: Iterable[SubmissionReport]) -> str:
    """One line per submission: the grade table of a class."""
    rows = list(subs)
    width = max([len(s.path) for s in rows] + [10])
    lines = [f"{'submission':{width}}  {'exercise':24} {'points':>9}  status"]
    for s in rows:
        if s.errors:
            status, points = "not graded: " + s.errors[0], "-"
        else:
            lost = [i.id for i in s.items if i.status in ("failed", "error")]
            status = "full marks" if not lost else "lost: " + ", ".join(lost)
            points = f"{_points(s.score)}/{_points(s.max_score)}"
        lines.append(f"{s.path:{width}}  {(s.exercise or '?'):24} {points:>9}  {status}")
    return "\n".join(lines)
