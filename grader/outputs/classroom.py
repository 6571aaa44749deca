"""GitHub Classroom's grading reporter input for one submission.

The reporter (classroom-resources/autograding-grading-reporter) reads, for each runner id,
an environment variable ``<ID>_RESULTS`` holding base64 of ``{"version": 1, "status",
"max_score", "tests": [{"name", "status", "score", "message"}]}``; a workflow step passes it
on from this step's ``result`` output.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from nngrade.grader.report import SubmissionReport


def payload(sub: SubmissionReport) -> dict[str, Any]:
    """The reporter's JSON document for one notebook."""
    if sub.errors:
        return {"version": 1, "status": "error", "max_score": sub.max_score,
                "tests": [{"name": "notebook", "status": "error", "score": 0,
                           "message": " ".join(sub.errors)}]}
    tests = [{"name": i.id, "status": "pass" if i.status == "passed" else
              ("error" if i.status == "error" else "fail"), "score": i.score,
              "message": i.message + (f" Hint: {i.hint}" if i.hint and i.status != "passed" else "")}
             for i in sub.items if i.status != "manual"]
    return {"version": 1, "status": "pass" if sub.full_marks else "fail",
            "max_score": sub.max_score, "tests": tests}


def output_line(sub: SubmissionReport) -> str:
    """``result=<base64>``: the line a step appends to $GITHUB_OUTPUT."""
    encoded = base64.b64encode(json.dumps(payload(sub)).encode()).decode("ascii")
    return f"result={encoded}"


def write_output(sub: SubmissionReport) -> str | None:
    """Append the result to $GITHUB_OUTPUT; return the path, or None outside Actions."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as out:
        out.write(output_line(sub) + "\n")
    return target
