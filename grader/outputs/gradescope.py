"""Gradescope's autograder ``results.json`` for one submission.

One test per item: name, number, score, max_score, status, output, visibility. The output is
the same message and hint a student reads elsewhere: on hidden cases it says how far off the
answer was and never shows hidden inputs or expected values, and a lost hidden case is a
failed test, so the total can never read "all passed" while one failed.
"""

from __future__ import annotations

from typing import Any

from nngrade.grader.report import SubmissionReport


def results(sub: SubmissionReport) -> dict[str, Any]:
    """The results.json document of one submission."""
    if sub.errors:
        return {"score": 0.0, "output": "This notebook could not be graded: "
                + " ".join(sub.errors), "visibility": "visible", "tests": []}
    tests = []
    for number, item in enumerate((i for i in sub.items if i.status != "manual"), start=1):
        output = item.message or "passed"
        if item.hint and item.status != "passed":
            output += f"\nHint: {item.hint}"
        tests.append({"name": item.id, "number": str(number), "score": item.score,
                      "max_score": item.max_score,
                      "status": "passed" if item.status == "passed" else "failed",
                      "output": output, "visibility": "visible"})
    notes = list(sub.problems) + [f"Your notebook's own run: {e}" for e in sub.cell_errors]
    return {"score": sub.score, "output": "\n".join(notes), "visibility": "visible",
            "tests": tests}
