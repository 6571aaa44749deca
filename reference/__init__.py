"""Reference solutions and check declarations, one package per exercise.

Each exercise package has ``solution.py`` (the reference cell sources), ``checks.py`` (the
``EXERCISE`` declaration) and ``cases.py`` (inputs and probes, run inside the sandbox). This
module only maps notebook stems to packages and imports a declaration on demand, so importing
it loads no solution.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from nngrade.errors import UnknownExerciseError

if TYPE_CHECKING:
    from nngrade.grader.spec import Exercise

PACKAGES: dict[str, str] = {
    "01_insurance_regression": "nngrade.reference.insurance",
    "02_early_stopping": "nngrade.reference.early_stopping",
    "03_weight_penalization": "nngrade.reference.weights",
    "04_vanishing_gradients": "nngrade.reference.vanishing",
    "05_edge_detection": "nngrade.reference.edges",
}


def exercise_names() -> list[str]:
    """The stems of every exercise with a reference, in curriculum order."""
    return sorted(PACKAGES)


def load_exercise(name: str) -> "Exercise":
    """The check declaration of an exercise, by notebook stem or by its number ("01")."""
    matches = [stem for stem in PACKAGES if stem == name or stem.split("_", 1)[0] == name]
    if not matches:
        known = ", ".join(exercise_names())
        raise UnknownExerciseError(f"no exercise called {name!r}; known exercises: {known}")
    return importlib.import_module(PACKAGES[matches[0]] + ".checks").EXERCISE
