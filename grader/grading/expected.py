"""The reference's observations of an exercise: computed through the same sandbox and kernel
as a student's notebook, once per batch, and cached on disk under a fingerprint of everything
they depend on (the reference package, the notebook, the engine, library versions)."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nngrade
from nngrade.errors import ReferenceFailure
from nngrade.grader.sandbox.limits import Limits
from nngrade.grader.spec import Exercise

# What observations are computed and read with (numpy under wire, nbformat under solution) is
# imported where they are: a re-run of stored grades needs only ``fingerprint``.
if TYPE_CHECKING:
    from nngrade.grader.grading import kernel


@dataclass(frozen=True)
class ReferenceRun:
    """The reference's observations: per (item, case index), and the notebook's final state."""

    cases: dict[tuple[str, int], Any]
    state: dict[str, Any]


# The parts of the engine that can change an observation: what runs in the sandbox, the probe
# API and declarations, and how requests, the reference notebook and its kernel run are made.
# The command line, the outputs, the comparison (verdicts, not observations) and the batch
# machinery are left out, so editing them keeps every cached observation and stored grade.
OBSERVATION_SOURCES: tuple[tuple[str, str], ...] = (
    ("nngrade.reference", "**/*.py"),  # all of it: a cases module may import another's
    ("nngrade.grader.sandbox", "*.py"),
    ("nngrade.grader", "probes.py"),
    ("nngrade.grader", "spec.py"),
    ("nngrade", "config.py"),
    ("nngrade.grader.grading", "requests.py"),
    ("nngrade.grader.grading", "kernel.py"),
    ("nngrade.grader.grading", "kernel_client.py"),
    ("nngrade.grader.grading", "solution.py"),
    ("nngrade.grader.grading", "expected.py"),
)


def observation_sources(reference: str | None = None) -> list[Path]:
    """The files whose content is part of every fingerprint; ``reference`` is the folder of a
    course's reference packages, standing for ``nngrade.reference`` (a course outside)."""
    found: list[Path] = []
    for package_name, pattern in OBSERVATION_SOURCES:
        if package_name == "nngrade.reference" and reference is not None:
            root = Path(reference)
        else:
            root = Path(str(resources.files(package_name)))
        found += sorted(root.glob(pattern))
    return found


def fingerprint(exercise: Exercise) -> str:
    """A hash of everything a reference observation depends on: content (the exercise's
    course's reference tree and notebook), the parts of the engine that make observations
    (``OBSERVATION_SOURCES``), versions."""
    digest = hashlib.sha256(nngrade.__version__.encode())
    origin = exercise.origin
    for path in observation_sources(origin.reference if origin else None):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(_notebook_file(exercise).read_bytes())
    for dist in ("torch", "numpy", "scikit-learn", "scipy", "pandas", "matplotlib"):
        version = _version(dist)
        if version is not None:
            digest.update(f"{dist}={version}".encode())
    return digest.hexdigest()[:20]


def _notebook_file(exercise: Exercise) -> Any:
    # a course's exercise names its notebook; only one without a course needs solution
    # (and nbformat under it) to find the built-in one
    if exercise.origin is not None:
        return Path(exercise.origin.notebook)
    from nngrade.grader.grading import solution

    return solution.notebook_file(exercise)


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _version(dist: str) -> str | None:
    """An installed distribution's version, read off the headers of the ``METADATA`` of its
    ``.dist-info`` folder, the first on the import path, as ``importlib.metadata`` finds it.
    Importing that module costs 27 ms (it parses e-mail), a fifth of an unchanged re-run; it
    is asked only for a distribution installed another way (an egg)."""
    wanted = _normalised(dist)
    for folder in sys.path:
        try:
            entries = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in entries:
            if (entry.endswith(".dist-info")
                    and _normalised(entry[: -len(".dist-info")].rsplit("-", 1)[0]) == wanted):
                try:
                    with open(os.path.join(folder, entry, "METADATA"), encoding="utf-8") as file:
                        for line in file:
                            if not line.strip():
                                break  # the headers end at the first empty line
                            name, _, value = line.partition(":")
                            if name.strip().lower() == "version":
                                return value.strip()
                except OSError:
                    pass
                break  # a version this reading cannot find: importlib.metadata's reading
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def load_or_compute(exercise: Exercise, limits: Limits, kernel_limits: kernel.KernelLimits,
                    use_cache: bool = True) -> ReferenceRun:
    """The cached observations if their fingerprint matches, else computed (and cached)."""
    from nngrade.grader.grading import declaration, requests
    from nngrade.grader.sandbox import wire

    path = requests.cache_root() / f"{exercise.stem}-{fingerprint(exercise)}.json"
    if use_cache and path.is_file():
        try:
            data = wire.loads(path.read_bytes())
            cases = {(k.split("#")[0], int(k.split("#")[1])): v for k, v in data["cases"].items()}
            cached = ReferenceRun(cases, data["state"])
        except (wire.ObservationError, KeyError, ValueError, IndexError):
            cached = None  # a damaged cache entry is recomputed
        if cached is not None:
            declaration.check_keys(exercise, cached.cases, cached.state)
            return cached
    run = compute(exercise, limits, kernel_limits)
    declaration.check_keys(exercise, run.cases, run.state)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        plain = {"cases": {f"{k[0]}#{k[1]}": v for k, v in run.cases.items()},
                 "state": run.state}
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(wire.dumps(plain))
        os.replace(tmp, path)
    return run


def compute(exercise: Exercise, limits: Limits, kernel_limits: kernel.KernelLimits) -> ReferenceRun:
    """Run every reference cell on every case, and the reference notebook; a failure of the
    reference is the package's problem (ReferenceFailure), never a student's."""
    from nngrade.grader.grading import kernel, requests, solution
    from nngrade.grader.sandbox import runner

    names = requests.state_names(exercise)
    with ThreadPoolExecutor(1) as pool:
        execution = pool.submit(kernel.execute, solution.filled_notebook(exercise),
                                state_names=names, limits=kernel_limits,
                                env=requests.sandbox_env()) if names else None
        cases: dict[tuple[str, int], Any] = {}
        for item in exercise.items:
            # the reference always gets its items' own time limits; its cases run together
            # as a student's do
            batch = [requests.request(exercise, item, case, exercise.solution[item.id], (),
                                      Limits(timeout=item.timeout, memory=limits.memory))
                     for case in item.cases]
            results = runner.run_cases(batch) if batch else []
            for index, (case, result) in enumerate(zip(item.cases, results)):
                if result.status != "ok":
                    raise ReferenceFailure(f"the reference of {item.id} failed on "
                                           f"{case.describe}: {result.message}")
                cases[(item.id, index)] = result.observation
        state: dict[str, Any] = {}
        if execution is not None:
            done = execution.result()
            if done.stopped or done.cell_errors:
                problem = done.stopped or done.cell_errors[0].describe()
                raise ReferenceFailure(f"the reference notebook of {exercise.stem} failed: {problem}")
            missing = [n for n in names if n not in done.state]
            if missing:
                raise ReferenceFailure(f"the reference notebook left no {missing}")
            state = dict(done.state)
            for item in exercise.items:
                if item.trained is not None:
                    state[trained_key(item.id)] = _measure_trained(exercise, item, done.state,
                                                                   limits)
    return ReferenceRun(cases, state)


def trained_key(item_id: str) -> str:
    """Where the reference's ``trained`` measurement of an item is kept in its state."""
    return f"{item_id}#trained"


def _measure_trained(exercise: Exercise, item: Any, state: dict[str, Any],
                     limits: Limits) -> Any:
    from nngrade.grader.grading import requests
    from nngrade.grader.sandbox import runner

    trained = item.trained
    request = requests.trained_request(exercise, item, exercise.solution[trained.cell],
                                   state[trained.module], (),
                                   Limits(timeout=item.timeout, memory=limits.memory))
    result = runner.run(request)
    if result.status != "ok":
        raise ReferenceFailure(f"measuring the reference notebook's {trained.module} for {item.id} "
                         f"failed: {result.message}")
    return result.observation
