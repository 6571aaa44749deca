"""Everything ``nngrade grade --out DIR`` writes, from one GradeReport.

``report.json`` (the JSON contract), ``gradebook.csv``, ``feedback/<student>-<exercise>.md``
and ``.html``, ``gradescope/<student>-<exercise>/results.json``, ``summary.md`` with
``scores.png``, and ``manual.md``. Grades themselves are stored in ``results/`` by
``store`` as they finish. A notebook that was run as a whole (``grade --execute``, or an
exercise whose checks need its run) is kept, executed, in ``executed/<student>-<exercise>.ipynb``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from nngrade.grader.outputs import feedback
from nngrade.grader.outputs import gradebook
from nngrade.grader.outputs import gradescope
from nngrade.grader.outputs import summary
from nngrade.grader.report import GradeReport, to_json


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "submission"


def write(out: Path, graded: GradeReport) -> None:
    """Write every rendering of ``graded`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    subs = list(graded.submissions)
    (out / "report.json").write_text(to_json(graded), encoding="utf-8")
    (out / "gradebook.csv").write_text(gradebook.to_csv(subs), encoding="utf-8")
    used: set[str] = set()
    for sub in subs:
        name = _slug(f"{sub.student or Path(sub.path).stem}-{sub.exercise or 'unknown'}")
        while name in used:
            name += "_"
        used.add(name)
        for folder, suffix, text in (("feedback", ".md", feedback.markdown(sub)),
                                     ("feedback", ".html", feedback.html(sub))):
            (out / folder).mkdir(exist_ok=True)
            (out / folder / f"{name}{suffix}").write_text(text, encoding="utf-8")
        if sub.notebook:  # the executed notebook, outputs included, for the instructor
            (out / "executed").mkdir(exist_ok=True)
            (out / "executed" / f"{name}.ipynb").write_text(sub.notebook, encoding="utf-8")
        gs = out / "gradescope" / name
        gs.mkdir(parents=True, exist_ok=True)
        (gs / "results.json").write_text(json.dumps(gradescope.results(sub), indent=2),
                                         encoding="utf-8")
    png = "scores.png" if summary.histogram(subs, out / "scores.png") else None
    (out / "summary.md").write_text(summary.markdown(subs, png), encoding="utf-8")
    (out / "manual.md").write_text(summary.manual_answers(subs), encoding="utf-8")
