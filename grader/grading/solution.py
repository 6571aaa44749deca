"""The blank student notebooks, and the same notebooks filled with the reference solution."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat

from nngrade.config import METADATA_KEY

from nngrade.grader.spec import Exercise


def notebook_file(exercise: Exercise | str) -> Any:
    """The blank notebook file of an exercise: its course's (``Exercise.origin``), else the
    one shipped with the package (by stem)."""
    if isinstance(exercise, Exercise) and exercise.origin is not None:
        return Path(exercise.origin.notebook)
    stem = exercise.stem if isinstance(exercise, Exercise) else exercise
    return resources.files("nngrade.exercises").joinpath(f"{stem}.ipynb")


def blank_notebook_text(exercise: Exercise | str) -> str:
    """The student notebook of an exercise (an Exercise, or a built-in one's stem), as text."""
    return notebook_file(exercise).read_text("utf-8")


def blank_notebook(exercise: Exercise | str) -> Any:
    """The student notebook of an exercise, blank."""
    return nbformat.reads(blank_notebook_text(exercise), as_version=4)


def blank_sources(exercise: Exercise | str) -> dict[str, str]:
    """The template source of every graded cell of the blank notebook, by item id."""
    sources = {}
    for cell in blank_notebook(exercise).cells:
        item = cell.get("metadata", {}).get(METADATA_KEY, {}).get("item")
        if item:
            sources[item] = cell.source
    return sources


def filled_notebook(exercise: Exercise) -> Any:
    """The blank notebook with every graded cell replaced by the reference's source."""
    nb = copy.deepcopy(blank_notebook(exercise))
    for cell in nb.cells:
        item = cell.get("metadata", {}).get(METADATA_KEY, {}).get("item")
        if item in exercise.solution:
            cell.source = exercise.solution[item]
    return nb


def write_solution(exercise: Exercise, path: str | Path) -> Path:
    """Write the reference-filled notebook to ``path``."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(filled_notebook(exercise), str(out))
    return out
