"""Libraries as they were before the cell ran, for the probe that inspects it.

A cell can replace any Python-level function of a library a probe computes with
(``np.allclose = lambda *a: True``, a method of ``nn.Module``). Before the probe runs, every
module that was imported before the cell (numpy, torch, scipy, sklearn, json, nngrade itself,
the exercise's cases) gets back the attributes it had, and every class those modules define
gets back its methods; modules the cell imported itself are left as they are. The fork
server takes the snapshot once (``take``, from ``warm``), so a run only tops it up with the
modules imported since (``top_up``). To find what changed without touching every value (a
forked child copies each memory page whose reference counts it touches, which cost 0.4 s),
``restore`` reads each dictionary's version tag (PEP 509, CPython 3.10-3.12: it changes with
every modification) and compares values only where a tag moved; elsewhere it compares all.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

# where CPython keeps a module's dict and a dict's version tag (object header: refcount, type)
_TAGS = sys.implementation.name == "cpython" and (3, 10) <= sys.version_info[:2] <= (3, 12)
_MD_DICT, _MA_VERSION_TAG = 16, 24


def _tag_address(mapping: Any) -> int | None:
    """Where the version tag of a dict (a module's, or a class's behind its mappingproxy)
    lives; None where tags are not known."""
    if not _TAGS:
        return None
    address = id(mapping)
    if type(mapping).__name__ == "mappingproxy":
        address = ctypes.c_void_p.from_address(address + 16).value or 0
    return address + _MA_VERSION_TAG


def _tag(address: int | None) -> int | None:
    return None if address is None else _read(address).value


_read = ctypes.c_uint64.from_address

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class whose attributes Python code can set
# sys holds this run's own stdout and module table; builtins are restored by the runner;
# __main__ is the fork server's script; threading is re-made for the child after the fork
_SKIPPED = frozenset({"sys", "builtins", "__main__", "__mp_main__", "threading"})

_modules: dict[str, Any] = {}
_module_dicts: dict[str, dict[str, Any]] = {}
_module_tags: dict[str, tuple[int | None, int | None]] = {}  # (tag address, tag)
_classes: dict[int, tuple[type, dict[str, Any], int | None, int | None]] = {}


def _record(name: str, module: Any) -> None:
    if name in _SKIPPED or module is None or name in _modules:
        return
    try:
        attributes = dict(vars(module))
    except TypeError:
        return
    _modules[name] = module
    _module_dicts[name] = attributes
    address = _tag_address(vars(module))
    _module_tags[name] = (address, _tag(address))
    for value in attributes.values():
        if (type(value) is type and value.__flags__ & _HEAPTYPE and id(value) not in _classes
                and getattr(value, "__module__", None) == name):
            address = _tag_address(value.__dict__)
            _classes[id(value)] = (value, dict(value.__dict__), address, _tag(address))


def take() -> None:
    """Snapshot every module loaded now (and the classes each defines)."""
    for name, module in list(sys.modules.items()):
        _record(name, module)


top_up = take  # the same walk: modules already recorded are skipped


def _put_back(current: Any, saved: dict[str, Any], setter: Any, deleter: Any) -> bool:
    changed = False
    for key in [k for k in current if k not in saved]:
        if type(current[key]).__name__ != "module":  # a submodule imported since: keep it
            deleter(key)
            changed = True
    for key, value in saved.items():
        if current.get(key, _MISSING) is not value:
            setter(key, value)
            changed = True
    return changed


_MISSING = object()


def restore() -> list[str]:
    """Put every recorded module, class and ``sys.modules`` entry back; returns the names
    of what had been changed."""
    changed: list[str] = []
    modules = sys.modules
    read = _read
    for name, module in _modules.items():
        if modules.get(name, module) is not module:
            modules[name] = module
            changed.append(name)
        address, tag = _module_tags[name]
        if address is not None and read(address).value == tag:
            continue  # untouched since the snapshot: nothing of it is read
        attributes = vars(module)
        if _put_back(attributes, _module_dicts[name], attributes.__setitem__,
                     attributes.__delitem__):
            changed.append(name)
        _module_tags[name] = (address, _tag(address))
    for key, (cls, saved, address, tag) in list(_classes.items()):
        if address is not None and read(address).value == tag:
            continue
        current = cls.__dict__
        if len(current) != len(saved) or any(current.get(k, _MISSING) is not v
                                             for k, v in saved.items()):
            try:
                _put_back(current, saved, lambda k, v: type.__setattr__(cls, k, v),
                          lambda k: type.__delattr__(cls, k))
            except (TypeError, AttributeError):
                pass
            changed.append(f"{cls.__module__}.{cls.__qualname__}")
        _classes[key] = (cls, saved, address, _tag(address))
    return changed
