"""How one case of one item becomes a sandbox request: the inputs, the limits, the
environment and the folders hidden from the cell. Shared by the reference's runs and the
students' runs, so both go through exactly the same path."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import platformdirs

from nngrade.config import APP_NAME, ENV_CACHE_DIR, ENV_DATA_DIR

from nngrade.grader.sandbox import runner
from nngrade.grader.sandbox.limits import Limits
from nngrade.grader.spec import Case, Exercise, Item


def cache_root() -> Path:
    """Where reference observations are cached (NNGRADE_CACHE_DIR, else the user cache)."""
    root = os.environ.get(ENV_CACHE_DIR) or platformdirs.user_cache_dir(APP_NAME)
    return Path(root) / "reference"


def state_names(exercise: Exercise) -> list[str]:
    """The names whose final values the notebook's own run must report (for a ``trained``
    check, the module whose weights are measured)."""
    names = set()
    for item in exercise.items:
        if item.trained is not None:
            names.add(item.trained.module)
        else:
            names.update(e.key for e in item.state)
    return sorted(names)


def trained_request(exercise: Exercise, item: Item, source: str, weights: Any,
                    imports: tuple[str, ...], limits: Limits,
                    hide: tuple[str, ...] = ()) -> runner.RunRequest:
    """The request that rebuilds ``item.trained.module`` with ``source`` (the cell of
    ``item.trained.cell``) and measures it with the notebook's trained ``weights``."""
    trained = item.trained
    assert trained is not None
    case = Case(trained.build, trained.probe, "the network your notebook trained",
                args={"weights": weights})
    return request(exercise, dataclasses.replace(item, writes=(trained.module,)), case, source,
                   imports, limits, hide)


def sandbox_env() -> dict[str, str]:
    """The variables a sandbox needs from the grader's environment, paths made absolute
    (sandboxes run in private working directories)."""
    env = {}
    for name in (ENV_DATA_DIR, ENV_CACHE_DIR):
        if os.environ.get(name):
            env[name] = os.path.abspath(os.environ[name])
    return env


def hidden_paths(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Folders student code must not read: the reference, nngrade's caches, and ``extra``
    (submission folders, the output folder)."""
    import importlib.util

    folders = [str(cache_root())]
    # a student's release-only install has no reference to hide; a course's own reference
    # comes in ``extra`` (``Course.private``)
    try:
        spec = importlib.util.find_spec("nngrade.reference")
    except ImportError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        folders += list(spec.submodule_search_locations)
    unique = list(dict.fromkeys(os.path.abspath(p) for p in (*folders, *extra)))
    # a folder inside another hidden folder is hidden with it
    return tuple(p for p in unique
                 if not any(p != q and p.startswith(q.rstrip(os.sep) + os.sep) for q in unique))


def request(exercise: Exercise, item: Item, case: Case, source: str, imports: tuple[str, ...],
            limits: Limits, hide: tuple[str, ...] = ()) -> runner.RunRequest:
    """The request that runs ``source`` as ``item``'s cell on ``case``."""
    return runner.RunRequest(
        source=source, cases_module=exercise.cases_module, build=case.build, probe=case.probe,
        writes=item.writes, args=case.args, seed=case.seed,
        preamble=(exercise.preamble, *imports), env=sandbox_env(), hide=hide,
        mounts=exercise.origin.mounts if exercise.origin else (),
        limits=Limits(timeout=min(item.timeout, limits.timeout), memory=limits.memory,
                      output=limits.output, result=limits.result, scratch=limits.scratch))
