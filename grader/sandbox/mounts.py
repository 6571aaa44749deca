"""Make a folder importable as a package, by name: a course outside nngrade, a release's
public cases.

A course's ``reference/`` folder (or a release's ``cases/``) is not on the import path, and
must not be: the sandbox's view binds the import path, and a course's solutions would then be
readable by student code. Instead the grader, and each sandboxed child before it encloses
itself, registers a package object whose ``__path__`` is that folder; its modules then import
by their full names (``<package>.<exercise>.cases``) and relative imports work inside it.
"""

from __future__ import annotations

import sys
import types
from typing import Iterable


def mount(name: str, folder: str) -> None:
    """Register ``folder`` as the package ``name`` (no ``__init__`` of its own is run); a name
    already registered for another folder is replaced."""
    present = sys.modules.get(name)
    if present is not None and list(getattr(present, "__path__", ())) == [folder]:
        return
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]  # a stale package of the same name would shadow this one
    package = types.ModuleType(name, f"the folder {folder}, mounted as a package")
    package.__path__ = [folder]
    package.__package__ = name
    sys.modules[name] = package


def mount_all(pairs: Iterable[tuple[str, str]]) -> None:
    """Mount every (name, folder) pair."""
    for name, folder in pairs:
        mount(str(name), str(folder))
