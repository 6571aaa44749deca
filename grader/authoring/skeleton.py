"""``nngrade new EXERCISE --course PATH``: a working skeleton of an exercise in a course.

It writes the blank notebook (one function item, one manual item) and the exercise's
reference package: ``__init__`` (the notebook's stem), ``solution.py``, ``cases.py`` (inputs
and a probe, with a public and a hidden case) and ``checks.py`` (the declaration). As written,
``nngrade validate --course PATH`` passes: the reference gets full marks, the blank zero.
The instructor then edits the four files and the notebook into the real exercise.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from nngrade.config import METADATA_KEY
from nngrade.errors import UsageError

_INIT = '''"""Exercise {stem}: {title}."""

# the notebook stem this package is the reference of
STEM = "{stem}"
'''

_SOLUTION = '''"""The reference solution of {stem}: the source of every graded cell, by item id."""

SOLUTION: dict[str, str] = {{
    "{package}.scale": (
        "def scale(x, factor):\\n"
        "    return np.asarray(x, dtype=float) * factor\\n"
    ),
}}
'''

_CASES = '''"""Inputs and probes of {stem}, run inside the sandbox.

A ``build_*`` function returns the names a cell reads (``build_nothing``: none); a ``probe_*``
function turns what the cell produced into plain data. Nothing here knows the answers: the
grader runs the reference cell through the same functions and compares.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nngrade.grader.probes import ProbeError, attempt, build_nothing, function

__all__ = ["build_nothing", "probe_scale"]


def probe_scale(ns: dict[str, Any], calls: list[list[Any]], **_: Any) -> dict[str, Any]:
    """What ``scale`` returned on each (x, factor) of ``calls``, as float arrays."""
    fn = function(ns, "scale")
    out: dict[str, Any] = {{}}
    for index, (x, factor) in enumerate(calls):
        value = attempt(f"scale({{x!r}}, {{factor!r}})",
                        lambda: fn(np.asarray(x, dtype=float), factor))
        try:
            out[f"call_{{index}}"] = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ProbeError(f"scale({{x!r}}, {{factor!r}}) should return numbers") from None
    return out
'''

_CHECKS = '''"""The check declaration of {stem}: items, points, cases (public and hidden), tolerances.

Expected values are never written here: every comparison is against what the reference cell
(``solution.py``) produces on the same inputs, through the same sandbox.
"""

from nngrade.grader.spec import Case, Exercise, Expect, Item

from . import STEM
from .solution import SOLUTION

ITEMS = (
    Item(
        id="{package}.scale",
        points=1,
        writes=("scale",),
        cases=(
            Case("build_nothing", "probe_scale", "a vector with a factor of 2, and a "
                 "scalar with a negative factor", args={{"calls": [[[1.0, 2.0, 3.0], 2.0],
                                                                  [4.0, -0.5]]}}),
            Case("build_nothing", "probe_scale", "an empty vector, and a factor of zero",
                 hidden=True, args={{"calls": [[[], 3.0], [[7.25, -7.25], 0.0]]}}),
        ),
        expects=(
            Expect("call_0", "what scale returned for the first input",
                   hint="every element of x times factor"),
            Expect("call_1", "what scale returned for the second input",
                   hint="a scalar x gives a scalar: x * factor"),
        ),
        hint="NumPy multiplies every element of an array by a number: x * factor.",
    ),
    Item(id="{package}.comment", points=0, manual=True),
)

EXERCISE = Exercise(
    stem=STEM,
    title="{title}",
    items=ITEMS,
    cases_module=f"{{__package__}}.cases",
    solution=SOLUTION,
    preamble="import numpy as np\\n",
    preload=("numpy",),
)
'''


def package_name(stem: str) -> str:
    """The reference package of a notebook stem: "02_my-first net" -> "my_first_net"."""
    name = re.sub(r"\W+", "_", re.sub(r"^\d+_", "", stem)).strip("_").lower()
    if not name.isidentifier():
        name = "exercise_" + name
    return name


def _notebook(stem: str, package: str, title: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    nb.metadata[METADATA_KEY] = {"exercise": stem}
    code = nbformat.v4.new_code_cell
    text = nbformat.v4.new_markdown_cell
    item = code("# TODO: return x times factor, element by element\n"
                "def scale(x, factor):\n    ...")
    item.metadata[METADATA_KEY] = {"item": f"{package}.scale"}
    answer = text("*Your answer here.*")
    answer.metadata[METADATA_KEY] = {"item": f"{package}.comment", "manual": True}
    nb.cells = [
        text(f"# {title}\n\nFill in the cells marked TODO, save, and run "
             f"`nngrade check {stem}.ipynb`."),
        code("import numpy as np"),
        text(f"## TODO 1 · Scaling (`{package}.scale`, 1 point)\n\nDefine `scale(x, factor)`, "
             "which returns `x` (a number or a NumPy array) with every element multiplied by "
             "`factor`."),
        item,
        code("print(scale(np.arange(3.0), 2.0))"),
        text(f"## Question (`{package}.comment`, read by your instructor)\n\nIn one sentence: "
             "why does `scale` work on arrays of any shape?"),
        answer,
    ]
    return nb


def write(course: str | Path, stem: str, title: str = "") -> list[Path]:
    """Write the skeleton of exercise ``stem`` into the course folder ``course`` (created if
    missing); returns the files written. Nothing existing is overwritten."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", stem):
        raise UsageError(f"{stem!r} cannot name a notebook: use letters, digits, _ and -, "
                         "e.g. 01_scaling")
    root = Path(course)
    package = package_name(stem)
    title = title or stem.replace("_", " ")
    notebook = root / "exercises" / f"{stem}.ipynb"
    folder = root / "reference" / package
    for existing in (notebook, folder):
        if existing.exists():
            raise UsageError(f"{existing} exists already: choose another exercise name")
    folder.mkdir(parents=True)
    notebook.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(_notebook(stem, package, title), str(notebook))
    written = [notebook]
    for name, template in (("__init__.py", _INIT), ("solution.py", _SOLUTION),
                           ("cases.py", _CASES), ("checks.py", _CHECKS)):
        path = folder / name
        path.write_text(template.format(stem=stem, package=package, title=title),
                        encoding="utf-8")
        written.append(path)
    return written
