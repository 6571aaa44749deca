"""Libraries as they were before the cell ran, for the probe that inspects it.

A cell can replace any Python-level function of a library a probe computes with
(``np.allclose = lambda *a: True``, a method of ``nn.Module``). Before the probe runs, every
module that was imported before the cell (numpy, torch, scipy, sklearn, json, nngrade itself,
the exercise's cases) gets back the attributes it had, and every class those modules define
gets back its methods; modules the cell imported itself are left as they are. The fork
server takes the snapshot once (``take``, from ``warm``), so a run only tops it up with the
modules imported since (``top_up``) and compares by identity (about 15-30 ms).
"""

from __future__ import annotations

import sys
from typing import Any

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class whose attributes Python code can set
# sys holds this run's own stdout and module table; builtins are restored by the runner;
# __main__ is the fork server's script
_SKIPPED = frozenset({"sys", "builtins", "__main__", "__mp_main__"})

_modules: dict[str, Any] = {}
_module_dicts: dict[str, dict[str, Any]] = {}
_classes: dict[int, tuple[type, dict[str, Any]]] = {}


def _record(name: str, module: Any) -> None:
    if name in _SKIPPED or module is None or name in _modules:
        return
    try:
        attributes = dict(vars(module))
    except TypeError:
        return
    _modules[name] = module
    _module_dicts[name] = attributes
    for value in attributes.values():
        if (type(value) is type and value.__flags__ & _HEAPTYPE and id(value) not in _classes
                and getattr(value, "__module__", None) == name):
            _classes[id(value)] = (value, dict(value.__dict__))


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
    for name, module in _modules.items():
        if sys.modules.get(name, module) is not module:
            sys.modules[name] = module
            changed.append(name)
        attributes = vars(module)
        if len(attributes) != len(_module_dicts[name]) or any(
                attributes.get(k, _MISSING) is not v for k, v in _module_dicts[name].items()):
            _put_back(attributes, _module_dicts[name], attributes.__setitem__,
                      attributes.__delitem__)
            changed.append(name)
    for cls, saved in _classes.values():
        current = cls.__dict__
        if len(current) != len(saved) or any(current.get(k, _MISSING) is not v
                                             for k, v in saved.items()):
            try:
                _put_back(current, saved, lambda k, v: type.__setattr__(cls, k, v),
                          lambda k: type.__delattr__(cls, k))
            except (TypeError, AttributeError):
                pass
            changed.append(f"{cls.__module__}.{cls.__qualname__}")
    return changed
