"""Everything ``nngrade grade --out DIR`` writes, from one GradeReport.

``report.json`` (the JSON contract), ``gradebook.csv``, ``feedback/<student>-<exercise>.md``
and ``.html``, ``gradescope/<student>-<exercise>/results.json``, ``summary.md`` with
``scores.png``, and ``manual.md``. Grades themselves are stored in ``results/`` by
``store`` as they finish. A notebook that was run as a whole (``grade --execute``, or an
exercise whose checks need its run) is kept, executed, in ``executed/<student>-<exercise>.ipynb``.

An unchanged re-run leaves the folder as it is: a file whose content would not change is not
written again, and a feedback page already drawn from the same report (its ``feedback.stamp``)
is not rendered again, as ``scores.png`` is not drawn again.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Callable

from nngrade.grader.outputs import feedback
from nngrade.grader.outputs import gradebook
from nngrade.grader.outputs import gradescope
from nngrade.grader.outputs import summary
from nngrade.grader.report import GradeReport, to_json


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "submission"


def _put(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless the file holds it already (kept, with its time)."""
    data = text.encode("utf-8")
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except OSError:
        pass  # missing or unreadable: written
    path.write_bytes(data)


def _page(path: Path, stamp: str, render: Callable[[], str]) -> None:
    """Write a feedback page unless the one at ``path`` ends with ``stamp`` (drawn from the
    same report and templates): rendering is what costs, not reading."""
    try:
        with path.open("rb") as page:
            size = page.seek(0, 2)
            page.seek(max(0, size - len(stamp)))
            if page.read() == stamp.encode("utf-8"):
                return
    except OSError:
        pass
    path.write_text(render(), encoding="utf-8")


def write(out: Path, graded: GradeReport) -> None:
    """Write every rendering of ``graded`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    subs = list(graded.submissions)
    _put(out / "report.json", to_json(graded))
    _put(out / "gradebook.csv", gradebook.to_csv(subs))
    used: set[str] = set()
    for sub in subs:
        name = _slug(f"{sub.student or Path(sub.path).stem}-{sub.exercise or 'unknown'}")
        while name in used:
            name += "_"
        used.add(name)
        (out / "feedback").mkdir(exist_ok=True)
        stamp = feedback.stamp(sub)
        _page(out / "feedback" / f"{name}.md", stamp, functools.partial(feedback.markdown, sub))
        _page(out / "feedback" / f"{name}.html", stamp, functools.partial(feedback.html, sub))
        if sub.notebook:  # the executed notebook, outputs included, for the instructor
            (out / "executed").mkdir(exist_ok=True)
            _put(out / "executed" / f"{name}.ipynb", sub.notebook)
        gs = out / "gradescope" / name
        gs.mkdir(parents=True, exist_ok=True)
        _put(gs / "results.json", json.dumps(gradescope.results(sub), indent=2))
    png = "scores.png" if summary.histogram(subs, out / "scores.png") else None
    _put(out / "summary.md", summary.markdown(subs, png))
    _put(out / "manual.md", summary.manual_answers(subs))
