"""``nngrade release``: what students get, and nothing of the reference they must not see.

A release is a folder of plain files::

    nngrade-release.json      the marker: format, course, nngrade version, the exercises
    exercises/<stem>.ipynb    the blank notebooks
    data/<file>               the data files they read
    checks/<stem>.json        per item: points, reads/writes, the declaration's messages and
                              hints, each public case (build and probe names, arguments,
                              description) with the reference's observation on it, how many
                              hidden checks there are; and the reference's fingerprint
    cases/<exercise>/cases.py the public part of the cases modules (``public_cases``)
    dist/<wheel>, constraints.txt, README.md
                              nngrade for students (``student_wheel``: the engine, data
                              registry and blank notebooks, no reference), its torch pin, and
                              the one line that installs it

All JSON; arrays as raw bytes in base64 (``sandbox.wire``), never pickle. No solution, no
``checks.py``, no hidden case (neither inputs, nor description, nor expected values) is
written: a hidden case leaves only its count.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import nngrade
from nngrade.errors import ReferenceFailure, ReleaseError
from nngrade.grader.grading import declaration, expected, requests, solution, student_wheel
from nngrade.grader.grading.course import Course
from nngrade.grader.grading.public_cases import public_modules
from nngrade.grader.sandbox import runner, wire
from nngrade.grader.sandbox.limits import Limits
from nngrade.grader.spec import Exercise, Item

log = logging.getLogger(__name__)
MARKER = "nngrade-release.json"
FORMAT = "nngrade-release/1"

README = """# {course}: a student release

This folder is a student release of the course {course}, made by nngrade {version}.

Install the checker once, from this folder (a fresh virtual environment is best). The wheel in
dist/ is nngrade without the instructor's reference; `[student]` adds JupyterLab, and the
PyTorch index gives the CPU build that constraints.txt pins (PyPI's pulls GBs of CUDA):

    python3 -m pip install --extra-index-url https://download.pytorch.org/whl/cpu -c constraints.txt "dist/{wheel}[student]"

Open the notebooks, fill in the TODO cells and save:

    jupyter lab exercises/

Check your work (or run `import nngrade; nngrade.check()` in a notebook's cell):

    nngrade check exercises/NOTEBOOK.ipynb

nngrade finds this folder by its file nngrade-release.json. It runs the public checks only:
the hidden checks run when your instructor grades, so passing every public check is not yet a
grade.
"""


def hidden_checks(item: Item) -> int:
    """How many of an item's checks a release does not run: its hidden cases, and its checks
    of the notebook's own run (which need the reference notebook's final values)."""
    return sum(case.hidden for case in item.cases) + (1 if item.state else 0)


def _observe(exercise: Exercise, item: Item, index: int) -> Any:
    """The reference's observation on one case, through the same path as grading."""
    case = item.cases[index]
    request = requests.request(exercise, item, case, exercise.solution[item.id], (),
                               Limits(timeout=item.timeout))
    started = time.monotonic()
    result = runner.run(request)
    log.debug("reference of %s on case %d: %.1f s", item.id, index, time.monotonic() - started)
    if result.status != "ok":
        raise ReferenceFailure(f"the reference of {item.id} failed on {case.describe}: "
                               f"{result.message}")
    return result.observation


def _item_record(exercise: Exercise, item: Item) -> dict[str, Any]:
    public = []
    for index, case in enumerate(item.cases):
        if not case.hidden:
            public.append({"build": case.build, "probe": case.probe, "describe": case.describe,
                           "args": dict(case.args), "seed": case.seed,
                           "expected": _observe(exercise, item, index)})
    return {"id": item.id, "points": item.points, "reads": list(item.reads),
            "writes": list(item.writes), "hint": item.hint, "manual": item.manual,
            "timeout": item.timeout, "cases_total": len(item.cases),
            "hidden_checks": hidden_checks(item), "public": public,
            "expects": [dataclasses.asdict(e) for e in item.expects]}


def exercise_record(exercise: Exercise, package: str) -> dict[str, Any]:
    """The public checks of one exercise, as plain data (``package`` is where its public
    cases module is, relative to the release's cases folder)."""
    return {"format": FORMAT, "stem": exercise.stem, "title": exercise.title,
            "fingerprint": expected.fingerprint(exercise),
            "cases_module": package, "preamble": exercise.preamble,
            "preload": list(exercise.preload), "data": list(exercise.data),
            "items": [_item_record(exercise, item) for item in exercise.items],
            # the templates of the graded cells: a student edits the release's notebook itself
            "blank": solution.blank_sources(exercise)}


def _relative_module(course: Course, module: str) -> str:
    if not module.startswith(course.package + "."):
        raise ReleaseError(f"the cases module {module} is not inside the course's reference "
                           f"package {course.package}")
    return module[len(course.package) + 1:]


def write(course: Course, out: str | Path, names: list[str] | None = None) -> Path:
    """Write the release of ``course`` (the named exercises, all by default) to ``out``."""
    from nngrade.datasets import DATA_FILES, data_path

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ReleaseError(f"{out} exists and is not a release: give an empty or new folder")
    exercises = [course.load_exercise(n) for n in (names or course.exercise_names())]
    runner.preload([m for exercise in exercises for m in exercise.preload])
    for part in ("exercises", "checks", "cases", "data", "dist"):
        shutil.rmtree(out / part, ignore_errors=True)
        (out / part).mkdir(parents=True)
    roots: dict[str, set[str]] = {}
    records = {}
    for exercise in exercises:
        declaration.check_names(exercise)
        for item in exercise.items:
            roots.setdefault(exercise.cases_module, set()).update(
                name for case in item.cases if not case.hidden
                for name in (case.build, case.probe))
        for name in exercise.data:  # before the reference runs: sandboxes run offline
            shutil.copyfile(data_path(name), out / "data" / DATA_FILES[name].filename)
        shutil.copyfile(solution.notebook_file(exercise), out / "exercises" /
                        f"{exercise.stem}.ipynb")
        records[exercise.stem] = exercise_record(
            exercise, _relative_module(course, exercise.cases_module))
        (out / "checks" / f"{exercise.stem}.json").write_bytes(wire.dumps(records[exercise.stem]))
    for relative, source in public_modules(course.package, course.reference, roots).items():
        target = out / "cases" / Path(*relative.split(".")).with_suffix(".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
        folder = target.parent
        while folder != out / "cases":  # every folder a package, so relative imports work
            (folder / "__init__.py").touch()
            folder = folder.parent
    manifest = {"format": FORMAT, "course": course.name, "nngrade": nngrade.__version__,
                "exercises": sorted(records)}
    wheel = student_wheel.write(out / "dist")
    student_wheel.write_constraints(out / "constraints.txt")
    (out / "README.md").write_text(README.format(course=course.name, version=nngrade.__version__,
                                                 wheel=wheel.name), encoding="utf-8")
    (out / MARKER).write_text(json.dumps(manifest, indent=2) + "\n")
    return out
