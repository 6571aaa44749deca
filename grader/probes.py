"""The one API an exercise's ``cases`` module uses, inside the sandbox.

A ``cases`` module builds the inputs a cell reads (``build_*``) and turns what the cell
produced into plain data (``probe_*``). These helpers are what every probe needs: a
``ProbeError`` with a sentence a student can act on, calling student code so that any
exception becomes such a sentence (``attempt``, ``call``), reading a number or a function out
of the cell's namespace, and a guard that runs a student's function with named library
functions forbidden (``run_from_scratch``) or watched (``run_with_spy``).

Nothing here knows an exercise; nothing of the grading core is imported.
"""

from __future__ import annotations

import _thread
import sys
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from nngrade.config import FIGURE_BYTES, FIGURE_KEY, MESSAGE_CHARS
from nngrade.errors import ForbiddenCall, ProbeError

__all__ = ["ForbiddenCall", "ProbeError", "attempt", "build_nothing", "call", "figure",
           "function", "number", "raised", "run_from_scratch", "run_with_spy"]


def short(exc: BaseException, limit: int = MESSAGE_CHARS) -> str:
    """An exception's message, cut to ``limit`` characters; never raises."""
    try:
        text = str(exc)
    except Exception:  # a student's exception whose __str__ raises
        text = "(its message could not be shown)"
    return text if len(text) <= limit else text[:limit] + "..."


def raised(description: str, exc: BaseException) -> ProbeError:
    """The ProbeError that says ``description`` raised ``exc``."""
    return ProbeError(f"{description} raised {type(exc).__name__}: {short(exc)}")


def attempt(description: str, fn: Callable[[], Any]) -> Any:
    """Call ``fn`` and turn any exception into a ProbeError that says what was tried."""
    try:
        return fn()
    except ProbeError:
        raise
    except Exception as exc:  # student code: any exception is a finding, not a crash
        raise raised(description, exc) from None


def call(fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """Call student code; return its result and None, or None and the exception it raised."""
    try:
        return fn(), None
    except Exception as exc:  # student code: any exception is a finding
        return None, exc


def figure() -> dict[str, Any]:
    """The last figure the cell drew, as a small PNG for the instructor's review, to merge
    into a probe's observation (``{**found, **figure()}``); empty when there is none or it
    cannot be drawn within ``FIGURE_BYTES``. Never part of a verdict: the grader shows it."""
    import io

    import matplotlib.pyplot as plt

    try:
        if not plt.get_fignums():
            return {}
        buffer = io.BytesIO()
        shown = plt.gcf()
        width, height = shown.get_size_inches()
        scale = min(1.0, 8.0 / max(width, height, 1e-3))  # a huge canvas is drawn small
        shown.savefig(buffer, format="png", dpi=72 * scale)
    except Exception:  # a figure the student broke costs its picture, not the item
        return {}
    data = buffer.getvalue()
    if len(data) > FIGURE_BYTES:
        return {}
    return {FIGURE_KEY: np.frombuffer(data, dtype=np.uint8).copy()}


def build_nothing(**_: Any) -> dict[str, Any]:
    """For cells that only define things: no inputs beyond the notebook's imports (a case's
    arguments are then for the probe)."""
    return {}


def number(value: Any, what: str) -> float:
    """``value`` as a float (a Python number, a NumPy scalar, a one-element array or tensor);
    a ProbeError naming ``what`` otherwise."""
    if isinstance(value, (list, tuple, dict, str)) or value is None:
        raise ProbeError(f"{what} should be a number, found {type(value).__name__}")
    return float(attempt(f"float({what})", lambda: float(np.asarray(value).reshape(()))))


def function(ns: Mapping[str, Any], name: str) -> Callable[..., Any]:
    """The function the cell defined as ``name``; a ProbeError if it is not callable."""
    fn = ns[name]
    if not callable(fn):
        raise ProbeError(f"`{name}` should be a function, found {type(fn).__name__}")
    return fn


# --- the from-scratch guard ------------------------------------------------------------------

# The sandbox's runner records the threads alive before the cell runs (``mark_threads``):
# a thread not among them was started by the cell.
_threads_before: frozenset[int] = frozenset(sys._current_frames())


def mark_threads() -> None:
    """Record the threads alive now, just before a cell runs (called by the sandbox)."""
    global _threads_before
    _threads_before = frozenset(sys._current_frames())


class _Patches:
    """Replaces objects wherever a student's function can reach them, and puts them back."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def replace_everywhere(self, original: Any, replacement: Any, namespace: dict[str, Any],
                           modules: Iterable[str]) -> None:
        """Replace ``original``, by identity, in the student's namespace and in the named
        modules (the public one and the private one that defines it)."""
        for key, value in list(namespace.items()):
            if value is original:
                self._set_item(namespace, key, replacement)
        for name in modules:
            module = sys.modules.get(name)
            if module is None:
                continue
            for key, value in list(vars(module).items()):
                if value is original:
                    self._set_attr(module, key, replacement)

    def _set_item(self, mapping: dict[str, Any], key: str, value: Any) -> None:
        old = mapping[key]
        mapping[key] = value
        self._undo.append(lambda: mapping.__setitem__(key, old))

    def _set_attr(self, module: Any, key: str, value: Any) -> None:
        old = getattr(module, key)
        setattr(module, key, value)
        self._undo.append(lambda: setattr(module, key, old))

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


# Ways to run a call where the profile hook cannot see it: switching the hook off, or running
# it in a new thread (a thread starts without the hook). A from-scratch function needs neither.
_UNTRACEABLE = {sys.setprofile: "sys.setprofile", sys.settrace: "sys.settrace",
                _thread.start_new_thread: "a new thread (_thread.start_new_thread)"}


def _is_untraceable(fn: Any) -> bool:
    try:
        return fn in _UNTRACEABLE
    except TypeError:  # an unhashable callable
        return False


def _public_name(module: str, name: str) -> str:
    """``scipy.ndimage._filters`` + ``convolve`` -> ``scipy.ndimage.convolve``."""
    parts = [p for p in module.split(".") if not p.startswith("_")]
    return ".".join(parts + [name])


def _loaded(forbidden: Iterable[tuple[str, Iterable[str]]]) -> Iterator[tuple[str, Any]]:
    """(public name, function) of every forbidden function whose module is loaded. Modules
    not imported yet are not imported here (that would cost every run); the profile hook
    still catches a call into them."""
    for module_name, names in forbidden:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name in names:
            fn = getattr(module, name, None)
            if fn is not None:
                yield f"{module_name}.{name}", fn


def run_from_scratch(fn: Callable[[], Any], namespace: dict[str, Any], *,
                     forbidden: Iterable[tuple[str, Iterable[str]]],
                     libraries: Iterable[str],
                     threads_before: frozenset[int] | None = None
                     ) -> tuple[Any, BaseException | None, list[str]]:
    """Call ``fn``, which must not use the ``libraries`` (top-level package names).

    Every function of ``forbidden`` ((module, names) pairs) is replaced, wherever the
    student's namespace or its module holds it, by one that records the call and raises
    ``ForbiddenCall``; a profile hook records any call into one of ``libraries`` from outside
    it, which catches aliases a replacement cannot reach (a ``functools.partial``). Switching
    the hook off, starting a thread, or a thread started since ``threads_before`` (by
    default: since the cell started) count as such calls.

    Returns the result, the exception raised (or None) and the library calls made."""
    tops = tuple(libraries)
    forbidden = tuple((m, tuple(n)) for m, n in forbidden)

    def in_library(module: Any) -> bool:
        return isinstance(module, str) and module.split(".")[0] in tops

    calls: list[str] = []
    patches = _Patches()
    seen: set[int] = set()
    for public, original in _loaded(forbidden):
        if id(original) in seen:  # torch.conv2d is torch.nn.functional.conv2d
            continue
        seen.add(id(original))

        def refuse(*_args: Any, _name: str = public, **_kwargs: Any) -> Any:
            calls.append(_name)
            raise ForbiddenCall(f"{_name} is not allowed in a from-scratch function")

        home = getattr(original, "__module__", None) or ""
        patches.replace_everywhere(original, refuse, namespace,
                                   (public.rsplit(".", 1)[0], home))

    importing = [0]  # module bodies running: an import, whose internals are not the student's
    finished = [False]
    before = _threads_before if threads_before is None else threads_before
    if set(sys._current_frames()) - before:  # such a thread runs calls where no hook can see
        calls.append("a thread that the cell left running")

    def hook(frame: Any, event: str, arg: Any) -> None:
        # Record entries into a library from outside it: the function the student called,
        # not the library's internals.
        if finished[0]:
            return
        if event == "c_call" and _is_untraceable(arg):
            calls.append(_UNTRACEABLE[arg])
            return
        if frame.f_code.co_name == "<module>":
            importing[0] += {"call": 1, "return": -1}.get(event, 0)
            return
        if importing[0]:
            return
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            caller = frame.f_back.f_globals.get("__name__", "") if frame.f_back else ""
            if in_library(module) and not in_library(caller):
                calls.append(_public_name(module, frame.f_code.co_name))
        elif event == "c_call":
            module = getattr(arg, "__module__", None)
            if module is None:
                module = type(getattr(arg, "__self__", None)).__module__
            if in_library(module) and not in_library(frame.f_globals.get("__name__", "")):
                calls.append(_public_name(module, getattr(arg, "__name__", "?")))

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        result, error = call(fn)
    finally:
        finished[0] = True
        sys.setprofile(previous)
        patches.restore()
    return result, error, calls


def run_with_spy(fn: Callable[[], Any], namespace: dict[str, Any], target: Callable[..., Any],
                 modules: Iterable[str]) -> tuple[Any, BaseException | None, bool]:
    """Call ``fn`` with ``target`` wrapped, wherever the namespace or ``modules`` hold it, so
    that its use is recorded. Returns the result, the exception raised (or None) and whether
    ``target`` was called."""
    used: list[bool] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        used.append(True)
        return target(*args, **kwargs)

    patches = _Patches()
    patches.replace_everywhere(target, spy, namespace, tuple(modules))
    try:
        result, error = call(fn)
    finally:
        patches.restore()
    return result, error, bool(used)
