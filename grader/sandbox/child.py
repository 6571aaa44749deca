"""What runs inside a sandboxed child: one item's cell, with grader-controlled inputs.

The child limits itself, builds the inputs with the exercise's ``cases`` module, runs the
cell, probes what it produced and sends back plain data (see ``wire``). Every failure of
the student's code becomes a result with a kind and a sentence; nothing is raised to the
grader. Probes raise ``ProbeError`` (``nngrade.grader.probes``) with a sentence a student can
act on.
"""

from __future__ import annotations

import builtins
import errno
import importlib
import io
import os
import random
import sys
import traceback
from typing import Any

from nngrade.config import ENV_OFFLINE
from nngrade.errors import ProbeError
from nngrade.grader import probes
from nngrade.grader.probes import short as _short
from nngrade.grader.sandbox import namespaces
from nngrade.grader.sandbox import limits as _limits
from nngrade.grader.sandbox import wire
from nngrade.grader.sandbox import syscalls

CELL_FILENAME = "<your cell>"
_MEMORY_WORDS = ("can't allocate memory", "Unable to allocate", "out of memory")


class _BoundedText(io.TextIOBase):
    """A stdout that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept: list[str] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.size < self.limit:
            self.kept.append(text[: self.limit - self.size])
        self.size += len(text)
        return len(text)


def _cell_line(tb: Any) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == CELL_FILENAME:
            line = lineno
    return line


def _seed(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": "error", "kind": kind, "message": message, **extra}


def _exception_result(exc: BaseException) -> dict[str, Any]:
    line = _cell_line(exc.__traceback__)
    where = f" (line {line} of your cell)" if line else ""
    if isinstance(exc, MemoryError) or any(w in _short(exc) for w in _MEMORY_WORDS):
        return _error("memory", "memory")
    if isinstance(exc, SystemExit):
        return _error("exit", f"the cell called exit({exc.code!r}){where}; remove it")
    if isinstance(exc, PermissionError) and exc.errno == errno.EPERM:
        return _error("exception", f"the cell raised PermissionError: {_short(exc)}{where}; while "
                      "graded, code may not start processes, mount file systems or trace "
                      "other processes", exception="PermissionError", line=line)
    return _error(
        "exception",
        f"the cell raised {type(exc).__name__}: {_short(exc)}{where}",
        exception=type(exc).__name__,
        line=line,
    )


def _restore(saved: dict[str, Any]) -> None:
    current = vars(builtins)
    for name in [n for n in current if n not in saved]:
        del current[name]
    current.update(saved)


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Run one request in this process and return the plain result (no exception escapes)."""
    _seed(int(request.get("seed", 0)))
    cases = importlib.import_module(request["cases_module"])
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    for statement in request.get("preamble", ()):
        try:
            exec(compile(statement, "<imports>", "exec"), namespace)
        except Exception:  # an import of the student's own that this sandbox lacks
            pass
    args = dict(request.get("args", {}))
    # bound now: the cell must not be able to swap the probe that inspects it
    build, probe = getattr(cases, request["build"]), getattr(cases, request["probe"])
    namespace.update(build(**args))
    if request.get("hide") and request["protections"] and namespaces.hide(request["hide"]):
        request["protections"].append(namespaces.HIDDEN)
    # last step before student code: the filter also forbids what building the sandbox needed
    if request.get("isolate", True) and syscalls.restrict():
        request["protections"].append(syscalls.FILTERED)
    _seed(int(request.get("seed", 0)))
    try:
        code = compile(request["source"], CELL_FILENAME, "exec")
    except SyntaxError as exc:
        return _error("syntax", f"the cell has a syntax error on line {exc.lineno}: {exc.msg}")
    except (ValueError, MemoryError, RecursionError) as exc:
        return _error("syntax", f"the cell cannot be compiled: {_short(exc)}")
    saved_builtins = dict(vars(builtins))
    probes.mark_threads()
    try:
        exec(code, namespace)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: all are the cell's
        _restore(saved_builtins)
        return _exception_result(exc)
    # a cell may replace builtins (isinstance, len, ...): the probe and encoding need the real ones
    _restore(saved_builtins)
    unfilled = [n for n in request.get("writes", ()) if namespace.get(n, None) is Ellipsis]
    if unfilled:
        return {"status": "unfilled", "message": f"`{unfilled[0]}` is still `...`: fill in the cell"}
    missing = [n for n in request.get("writes", ()) if n not in namespace]
    if missing:
        names = ", ".join(f"`{n}`" for n in missing)
        return _error("missing", f"the cell did not define {names}")
    try:
        observation = probe(namespace, **args)
    except ProbeError as exc:
        return _error("probe", str(exc))
    except BaseException as exc:
        result = _exception_result(exc)
        if result["kind"] == "exception":
            result = _error("probe", f"checking what your cell produced raised "
                                     f"{type(exc).__name__}: {_short(exc)}")
        return result
    return {"status": "ok", "observation": observation}


def child_main(request: dict[str, Any], conn: Any, workdir: str) -> None:
    """Entry point of a forked child: limit, isolate output, run, send plain data, exit."""
    dumps = wire.dumps  # bound before student code can replace it
    send = conn.send_bytes
    try:
        os.setsid()
    except OSError:
        pass
    limits = _limits.Limits(**request["limits"])
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    os.chdir(workdir)
    out = os.open(os.path.join(workdir, "output.txt"), os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    # the fork server's environment is frozen at its start; the grader sends what matters now
    os.environ.update(request.get("env", {}))
    os.environ.update({ENV_OFFLINE: "1", "MPLBACKEND": "Agg"})
    sys.stdout = _BoundedText(limits.output)
    sys.stderr = _BoundedText(limits.output)
    request["protections"] = (namespaces.enter(workdir, scratch_bytes=limits.scratch)
                              if request.get("isolate", True) else [])
    _limits.apply(limits)
    if request["protections"] and namespaces.own_pid_namespace():
        init = os.fork()
        if init:  # stay outside; the cell runs in the init of the new namespace
            os.waitpid(init, 0)
            os._exit(0)
        request["protections"].append(namespaces.OWN_PIDS)
    try:
        result = run(request)
    except BaseException as exc:  # the grader's own inputs failed: not the student's doing
        result = _error("internal", f"{type(exc).__name__}: {_short(exc)}")
    result["protections"] = list(request["protections"])
    try:
        payload = dumps(result)
    except BaseException as exc:  # what the probe found holds something that is not data
        payload = dumps(_error("unsendable", "what the cell produced cannot be sent back for "
                               f"checking ({type(exc).__name__}: {_short(exc)})"))
    if len(payload) > limits.result:
        payload = dumps(_error("too_big", "what the cell produced is too large to check"))
    try:
        send(payload)
    finally:
        os._exit(0)
