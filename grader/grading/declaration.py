"""Checks of an exercise's declaration, made when the grader loads it, before any grading.

A declaration that names a build or probe its ``cases`` module does not define, or expects a
key the reference's observation does not have, would otherwise fail in the middle of a batch
(a bare ``KeyError`` for every student). Both are found here and reported as a
``DeclarationError`` that names the exercise, the item and what is missing.

The ``cases`` module is read, not imported: its names are found in its source, so the grader
runs no exercise code in its own process.
"""

from __future__ import annotations

import ast
import importlib.util
from typing import Any, Mapping

from nngrade.errors import DeclarationError
from nngrade.grader.spec import Exercise
from nngrade.grader.grading import parsing


def _defined_names(module: str) -> set[str]:
    """Names bound at the top level of a module's source (defs, classes, assignments,
    imports), found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise DeclarationError(f"the cases module {module} cannot be found")
    with open(spec.origin, encoding="utf-8") as source:
        tree = parsing.parse(source.read(), spec.origin)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def check_names(exercise: Exercise) -> None:
    """Every ``Case.build``/``probe`` and ``Trained.build``/``probe`` of the declaration is
    defined by the exercise's cases module, and every item has a reference solution."""
    defined = _defined_names(exercise.cases_module)
    for item in exercise.items:
        if item.manual:
            continue
        if item.id not in exercise.solution:
            raise DeclarationError(f"{exercise.stem}: item {item.id} has no reference solution",
                                   exercise=exercise.stem, item=item.id)
        named = [(c.build, "build") for c in item.cases] + [(c.probe, "probe") for c in item.cases]
        if item.trained is not None:
            named += [(item.trained.build, "build"), (item.trained.probe, "probe")]
        for name, role in named:
            if name not in defined:
                raise DeclarationError(
                    f"{exercise.stem}: item {item.id} names the {role} {name!r}, which "
                    f"{exercise.cases_module} does not define", exercise=exercise.stem,
                    item=item.id)


def check_keys(exercise: Exercise, cases: Mapping[tuple[str, int], Any],
               state: Mapping[str, Any]) -> None:
    """Every ``Expect`` key of the declaration is in the reference's observation of each of
    its item's cases (and every ``state`` key in the reference notebook's state)."""
    from nngrade.grader.grading.expected import trained_key

    for item in exercise.items:
        for index, case in enumerate(item.cases):
            observed = cases.get((item.id, index))
            for expect in item.expects:
                if not isinstance(observed, Mapping) or expect.key not in observed:
                    raise DeclarationError(
                        f"{exercise.stem}: item {item.id} expects {expect.key!r}, but the "
                        f"reference's observation on {case.describe} has no such key",
                        exercise=exercise.stem, item=item.id)
        for expect in item.state:
            where = state.get(trained_key(item.id)) if item.trained else state
            if not isinstance(where, Mapping) or expect.key not in where:
                raise DeclarationError(
                    f"{exercise.stem}: item {item.id} expects {expect.key!r} of the notebook's "
                    "own run, but the reference notebook's run has no such value",
                    exercise=exercise.stem, item=item.id)
