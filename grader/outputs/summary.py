"""The class summary: per-item pass rates, a score histogram (PNG), and the free-text answers
collected for manual review."""

from __future__ import annotations

import hashlib
import json
import struct
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from nngrade.grader.report import SubmissionReport


def pass_rates(subs: Iterable[SubmissionReport]) -> dict[str, tuple[int, int]]:
    """Per item id: (submissions that passed it, graded submissions that have it)."""
    rates: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sub in subs:
        for item in sub.items:
            if item.status != "manual":
                rates[item.id][1] += 1
                rates[item.id][0] += item.status == "passed"
    return {k: (v[0], v[1]) for k, v in rates.items()}


def markdown(subs: list[SubmissionReport], histogram: str | None) -> str:
    """The summary page."""
    graded = [s for s in subs if s.graded]
    lines = ["# Class summary", "",
             f"{len(subs)} submissions, {len(graded)} graded, {len(subs) - len(graded)} not "
             "gradable.", ""]
    if graded:
        fractions = sorted(s.score / s.max_score for s in graded if s.max_score)
        if fractions:
            median = fractions[len(fractions) // 2]
            lines += [f"Median score: {100 * median:.0f} % of the points.", ""]
    lines += ["| item | passed | pass rate |", "|---|---|---|"]
    for item, (passed, total) in pass_rates(subs).items():
        lines.append(f"| `{item}` | {passed} / {total} | {100 * passed / total:.0f} % |")
    if histogram:
        lines += ["", f"![score histogram]({histogram})"]
    return "\n".join(lines) + "\n"


BINS = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100.001)
_KEY = "nngrade-scores"  # a PNG text chunk: the hash of what the histogram was drawn from


def histogram(subs: list[SubmissionReport], path: Path) -> bool:
    """Save a histogram of scores (percent of the points) as a PNG; False if nothing to plot.
    A PNG at ``path`` already drawn from the same scores is kept as it is: an unchanged
    re-run does not pay for matplotlib (0.7 s)."""
    scores = [100 * s.score / s.max_score for s in subs if s.graded and s.max_score]
    if not scores:
        return False
    drawn_from = hashlib.sha256(json.dumps([sorted(scores), BINS]).encode()).hexdigest()
    if _png_text(path).get(_KEY) == drawn_from:
        return True
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.hist(scores, bins=list(BINS), edgecolor="white")
    ax.set_xlabel("score (% of the points)")
    ax.set_ylabel("submissions")
    ax.set_title(f"Scores of {len(scores)} graded submissions")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={_KEY: drawn_from})
    return True


def _png_text(path: Path) -> dict[str, str]:
    """The tEXt chunks of the PNG at ``path``; empty when it is missing, not a PNG or cut
    short."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return {}
    found, at = {}, 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"tEXt" and b"\0" in body:
            keyword, _, text = body.partition(b"\0")
            found[keyword.decode("latin-1")] = text.decode("latin-1")
        if kind == b"IEND":
            return found
        at += 12 + length
    return {}


def manual_answers(subs: Iterable[SubmissionReport]) -> str:
    """Every free-text answer, grouped by item, for the instructor to read."""
    by_item: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for sub in subs:
        for item in sub.items:
            if item.status == "manual":
                by_item[item.id].append((sub.student or sub.path, item.answer))
    lines = ["# Answers for manual review", ""]
    if not by_item:
        lines.append("No free-text answers in these submissions.")
    for item, answers in by_item.items():
        lines += [f"## `{item}`", ""]
        for student, answer in answers:
            text = answer.strip() or "(not answered)"
            lines += [f"### {student}", "", text, ""]
    return "\n".join(lines) + "\n"
