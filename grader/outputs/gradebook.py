"""The class gradebook as CSV: one row per student, one column per item, then totals.

Plain CSV with a header row imports into spreadsheets and LMS gradebooks alike. A student
with several notebooks (exercises) gets one row with every exercise's items.
"""

from __future__ import annotations

import csv
import io
from typing import Iterable

from nngrade.grader.report import SubmissionReport


def _items(subs: list[SubmissionReport]) -> list[str]:
    order: list[str] = []
    for sub in subs:
        for item in sub.items:
            if item.status != "manual" and item.id not in order:
                order.append(item.id)
    return order


def to_csv(submissions: Iterable[SubmissionReport]) -> str:
    """The gradebook text: student, item columns, total, max_score, not_graded."""
    subs = list(submissions)
    items = _items(subs)
    rows: dict[str, dict[str, object]] = {}
    totals: dict[str, tuple[float, float]] = {}
    for sub in subs:
        row_key = sub.student or sub.path
        row = rows.setdefault(row_key,
                              {"student": sub.student or sub.path, "total": 0.0,
                               "max_score": 0.0, "not_graded": ""})
        for item in sub.items:
            if item.status != "manual":
                row[item.id] = item.score
        total, most = totals.get(row_key, (0.0, 0.0))
        totals[row_key] = (total + sub.score, most + sub.max_score)
        row["total"], row["max_score"] = totals[row_key]
        if sub.errors:
            row["not_graded"] = "; ".join(filter(None, [str(row["not_graded"]), *sub.errors]))
    out = io.StringIO()
    writer = csv.DictWriter(out, ["student", *items, "total", "max_score", "not_graded"],
                            restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows.values():
        writer.writerow({k: (f"{v:g}" if isinstance(v, float) else v) for k, v in row.items()})
    return out.getvalue()
