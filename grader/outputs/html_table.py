"""One notebook's result as an HTML table for a notebook's output area (``nngrade.check()``).

It renders a submission's JSON form (``report.SubmissionReport`` as a dict, as ``nngrade check
--format json`` prints it), so the keys a newer grader adds are rendered when present:
``scope`` ("full", the default, or "public": only the public cases ran) and ``hidden_not_run``
(how many hidden checks the instructor's grading adds). The words are those of
``nngrade check``'s text: the same status marks, messages and hints.

Everything a student or a grader wrote (messages, answers, paths) is escaped.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from html import escape
from typing import Any, Iterable, Mapping

from nngrade.grader.outputs.feedback import NOT_RUN
from nngrade.grader.outputs.text import _MARK
from nngrade.grader.report import SubmissionReport

_COLOUR = {"passed": "#1a7f37", "failed": "#b42318", "error": "#b42318", "manual": "#6e7781"}


def as_dict(sub: SubmissionReport | Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of a submission, whether given as a report or as its JSON dict."""
    return asdict(sub) if is_dataclass(sub) else dict(sub)


def _points(value: float) -> str:
    return f"{value:g}"


def is_public(sub: Mapping[str, Any]) -> bool:
    """True when only the public checks ran (a release's check); absent means full scope."""
    return sub.get("scope", "full") == "public"


def summary_line(sub: SubmissionReport | Mapping[str, Any]) -> str:
    """The last line of the feedback: the points, or in public scope what was (not) checked.

    A public-scope check never reads as full marks: the hidden checks have not run."""
    data = as_dict(sub)
    points = f"{_points(data['score'])}/{_points(data['max_score'])}"
    if not is_public(data):
        return f"Points {points}"
    graded = [i for i in data.get("items", ()) if i["status"] != "manual"]
    passed = sum(i["status"] == "passed" for i in graded)
    hidden = int(data.get("hidden_not_run", 0))
    line = (f"{passed} of {len(graded)} public checks pass ({points} points on the public "
            f"cases)")
    if hidden:
        line += f"; {hidden} hidden checks run when your instructor grades"
    return line


def _row(item: Mapping[str, Any]) -> str:
    status = item["status"]
    why = escape(item.get("message", ""))
    if item.get("hint") and status != "passed":
        why += ("<br>" if why else "") + "<em>hint:</em> " + escape(item["hint"])
    return (f'<tr><td style="text-align:left"><code>{escape(item["id"])}</code></td>'
            f'<td>{_points(item["score"])}/{_points(item["max_score"])}</td>'
            f'<td style="color:{_COLOUR.get(status, "inherit")};font-weight:bold">'
            f'{escape(_MARK.get(status, status))}</td>'
            f'<td style="text-align:left">{why}</td></tr>')


def _list(title: str, lines: Iterable[str]) -> str:
    entries = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f"<p>{escape(title)}</p><ul>{entries}</ul>" if entries else ""


def _warnings(warnings: Iterable[str]) -> list[str]:
    return [f'<p style="color:#9a6700"><strong>warning:</strong> {escape(w)}</p>'
            for w in warnings]


def render(sub: SubmissionReport | Mapping[str, Any], warnings: Iterable[str] = ()) -> str:
    """The submission as an HTML fragment: warnings, then one table row per item (id, points,
    status, message and the hint of each lost point), notes, the notebook's own errors, and
    the summary line."""
    data = as_dict(sub)
    parts = ['<div class="nngrade-check">', *_warnings(warnings)]
    parts.append(f"<p><code>{escape(str(data.get('path', '')))}</code> "
                 f"[{escape(data.get('exercise') or 'unknown exercise')}]</p>")
    if data.get("errors"):
        parts.append(_list("could not be graded:", data["errors"]))
        parts.append("</div>")
        return "".join(parts)
    parts.append("<table><thead><tr><th>item</th><th>points</th><th>status</th>"
                 "<th>message</th></tr></thead><tbody>")
    parts += [_row(item) for item in data.get("items", ())]
    parts.append("</tbody></table>")
    parts += [f"<p>note: {escape(p)}</p>" for p in data.get("problems", ())]
    parts.append(_list("your notebook's own run:", data.get("cell_errors", ())))
    if data.get("executed") is False:  # as `nngrade check` notes it (absent: an older grader)
        parts.append(f"<p>note: {escape(NOT_RUN)}</p>")
    parts.append(f"<p><strong>{escape(summary_line(data))}</strong></p></div>")
    return "".join(parts)


def render_message(sentence: str, warnings: Iterable[str] = ()) -> str:
    """A sentence instead of a table (the notebook was not found, no such item)."""
    return "".join(['<div class="nngrade-check">', *_warnings(warnings),
                    f"<p><strong>nngrade:</strong> {escape(sentence)}</p></div>"])
