"""The blank student notebooks, and the same notebooks filled with the reference solution."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat

from nngrade.config import METADATA_KEY

from nngrade.grader.spec import Exercise


def blank_notebook_text(stem: str) -> str:
    """The student notebook of an exercise as shipped with the package, as text."""
    return resources.files("nngrade.exercises").joinpath(f"{stem}.ipynb").read_text("utf-8")


def blank_notebook(stem: str) -> Any:
    """The student notebook of an exercise, as shipped with the package."""
    return nbformat.reads(blank_notebook_text(stem), as_version=4)


def blank_sources(stem: str) -> dict[str, str]:
    """The template source of every graded cell of the blank notebook, by item id."""
    sources = {}
    for cell in blank_notebook(stem).cells:
        item = cell.get("metadata", {}).get(METADATA_KEY, {}).get("item")
        if item:
            sources[item] = cell.source
    return sources


def filled_notebook(exercise: Exercise) -> Any:
    """The blank notebook with every graded cell replaced by the reference's source."""
    nb = copy.deepcopy(blank_notebook(exercise.stem))
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
