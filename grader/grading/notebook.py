"""Read and validate a submitted notebook into a ``Submission``; never run anything.

A file that cannot be read as a notebook raises ``SubmissionError`` with one sentence for the
student. Problems that still leave something to grade (a schema violation, an item id that
appears twice or sits in a markdown cell) are noted in ``problems`` and grading goes on.
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from nngrade.config import METADATA_KEY, PROBLEM_CHARS
from nngrade.errors import SubmissionError
from nngrade.grader.grading import parsing

MAX_NOTEBOOK_BYTES = 50 * 1024**2
_MAGIC = re.compile(r"^\s*[%!]")


@dataclass(frozen=True)
class Submission:
    """A notebook as read: its exercise, its graded cells by item id, and what was odd."""

    path: str
    exercise: str | None
    cells: dict[str, str]
    imports: tuple[str, ...]
    problems: tuple[str, ...]
    notebook: Any = field(repr=False, compare=False)


def _decode(path: Path) -> str:
    if path.is_symlink():
        # a link could point at another student's notebook or at any file of the machine
        raise SubmissionError("the file is a symbolic link; submit the notebook file itself")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SubmissionError(f"the file cannot be opened: {exc.strerror or exc}") from None
    if size > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(
            f"the file is {size / 1024**2:.0f} MB; notebooks above "
            f"{MAX_NOTEBOOK_BYTES // 1024**2} MB are not graded (clear the outputs and resubmit)")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"the file is not UTF-8 text (bad byte at offset {exc.start})") from None
    except OSError as exc:
        raise SubmissionError(f"the file cannot be read: {exc.strerror or exc}") from None


def _parse(text: str) -> tuple[Any, list[str]]:
    """The notebook node, and the schema problems noted while validating it."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise SubmissionError(f"the file is not valid JSON{where}, so it is not a notebook; "
                              "was it saved or uploaded incompletely?") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise SubmissionError("the file is JSON but not a Jupyter notebook (no list of cells)")
    if raw.get("nbformat") != 4:
        raise SubmissionError(
            f"the notebook is in nbformat {raw.get('nbformat')!r}; save it with a current "
            "Jupyter (nbformat 4)")
    captured: dict[str, Any] = {}
    try:
        # reads() rejoins multi-line sources and validates; a schema problem is captured
        # instead of logged, and noted for the student (reads() alone would not raise).
        nb = nbformat.reads(text, as_version=4, capture_validation_error=captured)
    except Exception as exc:  # nbformat raises several types on odd structures
        raise SubmissionError(f"the notebook's structure cannot be read: {exc}") from None
    problems = []
    if "ValidationError" in captured:
        message = getattr(captured["ValidationError"], "message", str(captured["ValidationError"]))
        problems.append(f"the notebook does not follow the nbformat schema ({message[:PROBLEM_CHARS]})")
    return nb, problems


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def _imports(source: str) -> list[str]:
    """Top-level import statements of a cell, so an item run has the notebook's imports."""
    code = "\n".join("" if _MAGIC.match(line) else line for line in source.splitlines())
    try:
        tree = parsing.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]


def _item_id(cell: Any) -> tuple[str | None, bool]:
    meta = cell.get("metadata", {}).get(METADATA_KEY, {})
    if not isinstance(meta, dict):
        return None, False
    item = meta.get("item")
    return (item if isinstance(item, str) else None), bool(meta.get("manual", False))


def exercise_of(nb: Any, path: Path) -> str | None:
    """The exercise a notebook declares in its metadata, else None."""
    meta = nb.get("metadata", {}).get(METADATA_KEY, {})
    name = meta.get("exercise") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else None


def read(path: str | os.PathLike[str]) -> Submission:
    """Read, parse and validate one notebook file; raises SubmissionError (with its ``path``)
    if it is unusable."""
    file = Path(path)
    try:
        nb, problems = _parse(_decode(file))
    except SubmissionError as exc:
        exc.path = str(path)
        raise
    cells: dict[str, str] = {}
    imports: list[str] = []
    for index, cell in enumerate(nb.cells):
        kind = cell.get("cell_type")
        source = _source(cell)
        if kind == "code":
            imports += [s for s in _imports(source) if s not in imports]
        item, manual = _item_id(cell)
        if item is None:
            continue
        if item in cells:
            problems.append(f"item {item} appears in more than one cell; the first one is graded")
            continue
        if kind != "code" and not manual:
            problems.append(f"item {item} is in a {kind} cell; it must be a code cell")
            continue
        cells[item] = source
    return Submission(str(path), exercise_of(nb, file), cells, tuple(imports), tuple(problems), nb)
