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

from nngrade.grader.sandbox import cgroups, resident, view, wire
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
            idle = resident.idle_seconds()
            if idle:  # a server kept warm between commands (``--keep-warm``)
                try:
                    resident.attach(_preload, idle)
                except OSError:
                    pass  # no kept server to be had: this process starts its own
            _context = ctx
        return _context


def _start(proc: Any) -> None:
    """Start a sandbox child without re-importing the parent's main script in it."""
    _launching.sandbox = True
    try:
        proc.start()
    finally:
        _launching.sandbox = False


_slots: threading.BoundedSemaphore | None = None
_cap = 0


def share(jobs: int) -> None:
    """From now on, at most ``jobs`` sandboxes of this process run at once, whichever
    submission or item they are for (a batch's ``--jobs``); 0 lifts the cap. With a cap of
    more than one, a submission's items may run side by side (``slots``)."""
    global _slots, _cap
    _slots, _cap = (threading.BoundedSemaphore(jobs), jobs) if jobs > 0 else (None, 0)


def slots() -> int:
    """The cap that ``share`` set (0: none, each caller runs its sandboxes one at a time)."""
    return _cap


def start_server() -> None:
    """Start the warm fork server now (in the background of the caller's other work)."""
    from multiprocessing import forkserver

    _ctx()
    forkserver._forkserver.ensure_running()  # the instance's: a kept server replaces it


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

    def case(self) -> dict[str, Any]:
        """The part of the request that differs from one case of an item to the next."""
        return {"build": self.build, "probe": self.probe, "args": dict(self.args),
                "seed": self.seed}

    def to_dict(self, cases: Sequence["RunRequest"] = ()) -> dict[str, Any]:
        """Plain data for the child: this request, run on its own case and ``cases``."""
        return {
            "source": self.source,
            "cases_module": self.cases_module,
            "cases": [self.case(), *(other.case() for other in cases)],
            "writes": list(self.writes),
            "preamble": list(self.preamble),
            "env": dict(self.env),
            "hide": list(self.hide),
            "isolate": self.isolate,
            "limits": self.limits.to_dict(),
            "mounts": [list(pair) for pair in self.mounts],
            "code": view.python_paths(),  # the grader's: see ``view.python_paths``
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
    return run_cases([request])[0]


# the child's own clock stops a case at its time; the grader's waits a little longer, so the
# child's sentence (which case) arrives first, and stops a cell that silences that clock
_GRACE = 1.0


def run_cases(batch: Sequence[RunRequest]) -> list[RunResult]:
    """Run one item's cell on several cases in one sandbox, one after the other, each case
    with its own inputs, namespace, seed and time limit; never raises for anything the cell
    does. Returns a result per case run, in order, stopping after the first that does not
    end ``ok``. The requests must differ only in their case (build, probe, args, seed).

    One sandbox for an item's cases costs one fork, one view and one filter instead of
    one per case. When it ends without a result for each (a crash, the memory cap, a cell
    that blocked the clock, a result too large or refused), the cases are run again one
    sandbox each, so that the result says which case did it."""
    first = batch[0]
    common = {k: v for k, v in first.to_dict().items() if k != "cases"}
    for other in batch[1:]:
        if {k: v for k, v in other.to_dict().items() if k != "cases"} != common:
            raise ValueError("the requests of one batch must differ only in their case")
    results = _launch(first, batch[1:])
    if results is not None:
        return results
    again: list[RunResult] = []
    for request in batch:
        alone = _launch(request, ())
        again.append(alone[0] if alone else RunResult("error", kind="garbled",
                                                      message="the result could not be read"))
        if again[-1].status != "ok":
            break
    return again


def _launch(request: RunRequest, more: Sequence[RunRequest]) -> list[RunResult] | None:
    """One sandbox for ``request``'s case and ``more``: a result per case run, or None when
    a batch of several ended without them (the caller runs them one by one)."""
    limits = request.limits
    n_cases = 1 + len(more)
    workdir = tempfile.mkdtemp(prefix="nngrade-run-")
    ctx = _ctx()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=child.child_main, args=(request.to_dict(more), sender, workdir))
    slot = _slots
    if slot is not None:
        slot.acquire()  # before the clock starts: waiting for a core is not the cell's time
    resident.used()
    started = time.monotonic()
    try:
        _start(proc)
        sender.close()
        data: bytes | None = None
        outcome: RunResult | None = None
        if receiver.poll(limits.timeout * n_cases + _GRACE):
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
        if slot is not None:
            slot.release()
            slot = None
        cgroups.remove(str(proc.pid))  # left behind when the supervisor itself was killed
        seconds = time.monotonic() - started
        if outcome is None and data is None:
            outcome = _died(proc.exitcode, limits)
        if outcome is not None:
            results = [RunResult(outcome.status, None, outcome.kind, outcome.message, seconds)]
        else:
            results = _decode(data, limits, seconds)
        if n_cases > 1 and (len(results) != n_cases and results[-1].status == "ok"
                            or _whole_run_failed(results)):
            return None
        return results
    finally:
        if slot is not None:  # the start failed
            slot.release()
        receiver.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _whole_run_failed(results: list[RunResult]) -> bool:
    # a result of the sandbox as a whole, not of one case (see ``_decode``)
    return len(results) == 1 and results[0].protections is None and results[0].status == "error"


def _decode(data: bytes | None, limits: Limits, seconds: float) -> list[RunResult]:
    """The results of the cases a child ran; a single result with no protections when the
    run as a whole failed (the grader's inputs, a refused or unreadable result)."""
    def garbled() -> list[RunResult]:
        return [RunResult("error", kind="garbled", message="the result could not be read",
                          seconds=seconds)]

    try:
        result = wire.loads(data or b"")
    except wire.ObservationError as exc:
        return [RunResult("error", kind="garbled", message=f"the result could not be read: {exc}",
                          seconds=seconds)]
    if not isinstance(result, dict):
        return garbled()
    held = result.get("protections")
    if not isinstance(result.get("cases"), list) or not result["cases"]:
        one = _one(result, limits, seconds, None)  # composed for the whole run
        return [one] if one is not None else garbled()
    # a result the supervisor composed (the cell's process died) reports no protections
    protections = tuple(str(p) for p in held) if isinstance(held, list) else None
    share = seconds / len(result["cases"])
    found = [_one(case, limits, share, protections) for case in result["cases"]]
    return garbled() if any(r is None for r in found) else [r for r in found if r is not None]


def _one(result: Any, limits: Limits, seconds: float,
         protections: tuple[str, ...] | None) -> RunResult | None:
    if not isinstance(result, dict) or result.get("status") not in ("ok", "unfilled", "error"):
        return None
    kind = str(result.get("kind", ""))
    if kind not in RUN_KINDS:
        return None
    message = str(result.get("message", ""))
    if kind == "memory" and "together" not in message:  # a MemoryError: say which cap
        message = f"the cell used more than {limits.describe_memory()} of memory"
    return RunResult(cast(RunStatus, result["status"]), result.get("observation"),
                     cast(RunKind, kind), message, seconds, protections)


__all__ = ["RunRequest", "RunResult", "preload", "run", "run_cases", "share", "slots",
           "start_server"]
