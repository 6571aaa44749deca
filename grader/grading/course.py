"""Courses: where a set of exercises lives, the built-in one being simply the default.

A course is a folder (or an installed package, registered in the entry-point group
``nngrade.courses``) shaped as nngrade's own: ``exercises/<stem>.ipynb`` (the blank notebooks)
and ``reference/<name>/`` (per exercise: ``__init__`` with ``STEM``, ``checks.py`` with
``EXERCISE``, ``cases.py``, ``solution.py``). Chosen with ``--course PATH|NAME``, else
``NNGRADE_COURSE``, else the built-in course.

A folder course is not put on the import path (the sandbox's view binds the import path, so
its solutions would become readable): its reference folder is mounted as a package of its
own name (``sandbox.mounts``), in the grader and in each child before it encloses itself,
and stays hidden from student code like the built-in reference (``Course.private``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nngrade.errors import CourseError, UnknownExerciseError
from nngrade.grader.sandbox import mounts as _mounts
from nngrade.grader.spec import Exercise, Origin

ENV_COURSE = "NNGRADE_COURSE"
ENTRY_POINTS = "nngrade.courses"
BUILTIN = "nngrade.reference"


@dataclass(frozen=True)
class Course:
    """A course: ``notebooks`` (folder of the blank notebooks), ``reference`` (folder of the
    reference packages), ``package`` (the name its reference imports under) and ``mounts``
    (what must be mounted for ``package`` to import: empty for an installed package)."""

    name: str
    notebooks: Path
    reference: Path
    package: str
    mounts: tuple[tuple[str, str], ...] = ()

    @property
    def private(self) -> tuple[str, ...]:
        """Folders student code must never read: the course's reference."""
        return (str(self.reference),)

    def _packages(self) -> dict[str, str]:
        """Notebook stem -> exercise package, for every reference subpackage with a ``STEM``."""
        _mounts.mount_all(self.mounts)
        found = {}
        for entry in sorted(self.reference.iterdir()):
            if entry.is_dir() and (entry / "__init__.py").is_file() and entry.name.isidentifier():
                name = f"{self.package}.{entry.name}"
                stem = getattr(importlib.import_module(name), "STEM", None)
                if isinstance(stem, str):
                    found[stem] = name
        return found

    def exercise_names(self) -> list[str]:
        """The stems of every exercise of the course that has a reference, sorted."""
        return sorted(self._packages())

    def load_exercise(self, name: str) -> Exercise:
        """The declaration of an exercise, by stem or number ("01"), with its ``origin``."""
        packages = self._packages()
        matches = [s for s in packages if s == name or s.split("_", 1)[0] == name]
        if not matches:
            raise UnknownExerciseError(f"no exercise called {name!r} in the course {self.name}; "
                                       f"known exercises: {', '.join(sorted(packages))}")
        stem = matches[0]
        exercise = importlib.import_module(packages[stem] + ".checks").EXERCISE
        notebook = self.notebooks / f"{stem}.ipynb"
        if not notebook.is_file():
            raise CourseError(f"the course {self.name} has a reference for {stem} but no "
                              f"notebook {notebook}")
        origin = Origin(str(notebook), str(self.reference), self.mounts)
        return dataclasses.replace(exercise, origin=origin)


def builtin() -> Course:
    """The course shipped inside nngrade; a CourseError where its reference is not installed
    (a student's release-only install)."""
    try:
        spec = importlib.util.find_spec(BUILTIN)
    except ImportError:  # the package's reference left out of this install
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise CourseError("this installation of nngrade has no reference (a student's "
                          "install): check with a release (--release DIR), or give --course")
    notebooks = Path(str(resources.files("nngrade.exercises")))
    return Course("built-in", notebooks, Path(list(spec.submodule_search_locations)[0]), BUILTIN)


def from_folder(path: str | os.PathLike[str]) -> Course:
    """A course in a folder: ``exercises/`` and ``reference/`` inside it."""
    root = Path(path).expanduser().resolve()
    if not (root / "reference").is_dir() or not (root / "exercises").is_dir():
        raise CourseError(f"{root} is not a course: it needs the folders exercises/ (the "
                          "notebooks) and reference/ (one package per exercise)")
    package = "nngrade_course_" + hashlib.sha256(str(root).encode()).hexdigest()[:12]
    reference = root / "reference"
    return Course(root.name, root / "exercises", reference, package, ((package, str(reference)),))


def from_package(module_name: str) -> Course:
    """An installed course package: ``exercises/`` and ``reference/`` inside it."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CourseError(f"the course package {module_name} cannot be imported: {exc}") from None
    root = Path(next(iter(module.__path__)))
    if not (root / "reference").is_dir() or not (root / "exercises").is_dir():
        raise CourseError(f"the package {module_name} is not a course: it needs exercises/ "
                          "and reference/ inside it")
    return Course(module_name, root / "exercises", root / "reference", f"{module_name}.reference")


def installed() -> dict[str, str]:
    """Course name -> package, for every package registered in ``nngrade.courses``."""
    from importlib import metadata  # 27 ms: only where installed courses are looked for

    return {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINTS)}


def select(choice: str | None = None) -> Course:
    """The course to work with: ``choice`` (a folder, or the name of an installed course),
    else ``NNGRADE_COURSE``, else the built-in course."""
    choice = choice or os.environ.get(ENV_COURSE) or None
    if choice is None:
        return builtin()
    if Path(choice).expanduser().is_dir():
        return from_folder(choice)
    registered = installed()
    if choice in registered:
        return from_package(registered[choice])
    known = ", ".join(sorted(registered)) or "none"
    raise CourseError(f"no course {choice!r}: not a folder, nor an installed course "
                      f"(installed: {known})")


def stems_or_none(course: Course | None) -> list[str]:
    """The course's exercise stems, or none where it (or its reference) is not there."""
    try:
        return (course or builtin()).exercise_names()
    except CourseError:
        return []
