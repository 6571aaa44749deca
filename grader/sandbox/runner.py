"""Run one item's cell in a separate, limited process and bring back plain data.

Children are forked from a warm fork server (``multiprocessing``'s forkserver, preloaded with
``warm``), so a run costs milliseconds of start-up instead of seconds of imports. Each child
starts its own session (process group); the grader kills the whole group when the result is
in or the wall-clock timeout passes, and reads the result through a size-bounded pipe.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import spawn
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence, get_args, cast

from nngrade.grader.sandbox import cgroups, wire
from nngrade.grader.sandbox import child
from nngrade.grader.sandbox.limits import Limits

_lock = threading.Lock()
_context: Any = None
_preload: list[str] = []
_launching = threading.local()
_preparation_data = spawn.get_preparation_data


def _preparation_without_main(name: str) -> dict[str, Any]:
    # multiprocessing re-imports the parent's main script in every child (0.2 s for the
    # ``nngrade`` console script, more under pytest). A sandbox child needs only
    # ``child.child_main``, so for our own children the main script is left out.
    data = _preparation_data(name)
    if getattr(_launching, "sandbox", False):
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


spawn.get_preparation_data = _preparation_without_main


def preload(modules: Sequence[str]) -> None:
    """Ask the fork server to import ``modules`` before its first fork (what the exercises
    declare they need); takes effect only if the server has not started yet."""
    with _lock:
        for name in modules:
            if name not in _preload:
                _preload.append(name)


def _ctx() -> Any:
    global _context
    with _lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload([*_preload, "nngrade.grader.sandbox.warm"])
            _context = ctx
        return _context


def _start(proc: Any) -> None:
    """Start a sandbox child without re-importing the parent's main script in it."""
    _launching.sandbox = True
    try:
        proc.start()
    finally:
        _launching.sandbox = False


def start_server() -> None:
    """Start the warm fork server now (in the background of the caller's other work)."""
    from multiprocessing import forkserver

    _ctx()
    forkserver.ensure_running()


@dataclass(frozen=True)
class RunRequest:
    """Everything a child needs to run one case of one item; all plain data."""

    source: str
    cases_module: str
    build: str
    probe: str
    writes: tuple[str, ...] = ()
    args: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    preamble: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    hide: tuple[str, ...] = ()
    isolate: bool = True
    limits: Limits = Limits()
    mounts: tuple[tuple[str, str], ...] = ()  # packages to mount before the cases import

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "cases_module": self.cases_module,
            "build": self.build,
            "probe": self.probe,
            "writes": list(self.writes),
            "args": dict(self.args),
            "seed": self.seed,
            "preamble": list(self.preamble),
            "env": dict(self.env),
            "hide": list(self.hide),
            "isolate": self.isolate,
            "limits": self.limits.to_dict(),
            "mounts": [list(pair) for pair in self.mounts],
        }


RunStatus = Literal["ok", "unfilled", "error"]
# what went wrong, when status is "error": the student's code (exception, timeout, memory,
# exit, crash, syntax, too_big, garbled, unsendable, forged, thread), what the cell left
# behind (missing, probe), or the grader's own inputs (internal: a problem of the package, never the student's)
RunKind = Literal["", "exception", "timeout", "memory", "exit", "crash", "syntax", "too_big",
                  "garbled", "unsendable", "forged", "thread", "missing", "probe", "internal"]
RUN_KINDS: tuple[str, ...] = get_args(RunKind)


@dataclass(frozen=True)
class RunResult:
    """What came back: ``status`` is ok, unfilled or error; ``kind`` names the error."""

    status: RunStatus
    observation: Any = None
    kind: RunKind = ""
    message: str = ""
    seconds: float = 0.0
    # what the child reported in force; None when the child never reported (killed, died)
    protections: tuple[str, ...] | None = None


def _kill_group(proc: Any) -> None:
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        try:
            kill()
        except (ProcessLookupError, PermissionError, OSError, AttributeError):
            pass


def _died(exitcode: int | None, limits: Limits) -> RunResult:
    if exitcode == -signal.SIGXCPU:
        return RunResult("error", kind="timeout",
                         message=f"the cell used more than {limits.timeout:g} s of CPU time")
    if exitcode == -signal.SIGKILL:
        return RunResult("error", kind="memory",
                         message=f"the cell was killed, most likely for using more than "
                                 f"{limits.describe_memory()} of memory")
    return RunResult("error", kind="crash",
                     message=f"the process running the cell died (exit code {exitcode}); "
                             "the cell may call os._exit or crash the interpreter")


def run(request: RunRequest) -> RunResult:
    """Run ``request`` in a fresh limited child; never raises for anything the cell does."""
    limits = request.limits
    workdir = tempfile.mkdtemp(prefix="nngrade-run-")
    ctx = _ctx()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=child.child_main, args=(request.to_dict(), sender, workdir))
    started = time.monotonic()
    try:
        _start(proc)
        sender.close()
        data: bytes | None = None
        outcome: RunResult | None = None
        if receiver.poll(limits.timeout):
            try:
                data = receiver.recv_bytes(maxlength=limits.result)
            except EOFError:
                pass
            except OSError:
                outcome = RunResult("error", kind="too_big",
                                    message="what the cell produced is too large to check")
        else:
            outcome = RunResult("error", kind="timeout",
                                message=f"the cell ran past its {limits.timeout:g} s limit")
        _kill_group(proc)
        proc.join(5)
        cgroups.remove(str(proc.pid))  # left behind when the supervisor itself was killed
        seconds = time.monotonic() - started
        if outcome is None and data is None:
            outcome = _died(proc.exitcode, limits)
        if outcome is not None:
            return RunResult(outcome.status, None, outcome.kind, outcome.message, seconds)
        return _decode(data, limits, seconds)
    finally:
        receiver.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _decode(data: bytes | None, limits: Limits, seconds: float) -> RunResult:
    try:
        result = wire.loads(data or b"")
    except wire.ObservationError as exc:
        return RunResult("error", kind="garbled", message=f"the result could not be read: {exc}",
                         seconds=seconds)
    if not isinstance(result, dict) or result.get("status") not in ("ok", "unfilled", "error"):
        return RunResult("error", kind="garbled", message="the result could not be read",
                         seconds=seconds)
    kind = str(result.get("kind", ""))
    if kind not in RUN_KINDS:
        return RunResult("error", kind="garbled", message="the result could not be read",
                         seconds=seconds)
    message = str(result.get("message", ""))
    if kind == "memory" and "together" not in message:  # a MemoryError: say which cap
        message = f"the cell used more than {limits.describe_memory()} of memory"
    # a result the supervisor composed (the cell's process died) reports no protections
    held = result.get("protections")
    protections = tuple(str(p) for p in held) if isinstance(held, list) else None
    return RunResult(cast(RunStatus, result["status"]), result.get("observation"),
                     cast(RunKind, kind), message, seconds, protections)


__all__ = ["RunRequest", "RunResult", "preload", "run", "start_server"]
