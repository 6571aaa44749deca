"""Reference solutions and check declarations, one package per exercise.

Each exercise package has ``solution.py`` (the reference cell sources), ``checks.py`` (the
``EXERCISE`` declaration) and ``cases.py`` (inputs and probes, run inside the sandbox), and
says in its ``__init__`` which notebook it is the reference of (``STEM``). This module finds
the packages and imports a declaration on demand, so importing it loads no solution.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING

from nngrade.errors import UnknownExerciseError

if TYPE_CHECKING:
    from nngrade.grader.spec import Exercise


@functools.lru_cache(maxsize=1)
def _packages() -> dict[str, str]:
    """Notebook stem -> exercise package, for every subpackage that declares a ``STEM``."""
    found = {}
    for info in pkgutil.iter_modules(__path__, prefix=__name__ + "."):
        if info.ispkg:
            stem = getattr(importlib.import_module(info.name), "STEM", None)
            if isinstance(stem, str):
                found[stem] = info.name
    return found


def exercise_names() -> list[str]:
    """The stems of every exercise with a reference, in curriculum order."""
    return sorted(_packages())


def load_exercise(name: str) -> "Exercise":
    """The check declaration of an exercise, by notebook stem or by its number ("01")."""
    packages = _packages()
    matches = [stem for stem in packages if stem == name or stem.split("_", 1)[0] == name]
    if not matches:
        known = ", ".join(exercise_names())
        raise UnknownExerciseError(f"no exercise called {name!r}; known exercises: {known}")
    return importlib.import_module(packages[matches[0]] + ".checks").EXERCISE
