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
import multiprocessing
import os
import random
import secrets
import signal
import sys
import traceback
from typing import Any, NoReturn

from nngrade.errors import ProbeError
from nngrade.grader import probes
from nngrade.grader.probes import short as _short
from nngrade.grader.sandbox import (cgroups, channel, environment, mounts, namespaces,
                                    pristine, syscalls, view, wire)
from nngrade.grader.sandbox import limits as _limits

CELL_FILENAME = "<your cell>"
PROCESS_TASKS = 64  # tasks (threads included) a sandbox's control group admits
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
    if isinstance(exc, _CaseTimeout):
        return _error("timeout", f"the cell ran past its {_case_time[0]:g} s limit")
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


def _other_processes() -> list[int]:
    """Processes of this PID namespace other than this one (its init), not yet reaped."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                    if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                        found.append(int(entry))
            except (OSError, IndexError):
                pass
    return found


def _restore(saved: dict[str, Any]) -> None:
    current = vars(builtins)
    for name in [n for n in current if n not in saved]:
        del current[name]
    current.update(saved)


def prepare(request: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    """The grader's side of a run, done before the sandbox closes: import the exercise's
    cases (the reference folder is out of the sandbox's view later), bind every case's
    builder and probe (so the cell cannot swap them), and build the first case's inputs.
    Returns, per case, its builder, its probe and its namespace (None until it is built)."""
    mounts.mount_all(request.get("mounts", ()))  # a course or release outside the package
    cases = importlib.import_module(request["cases_module"])
    prepared: list[tuple[Any, Any, Any]] = [
        (getattr(cases, case["build"]), getattr(cases, case["probe"]), None)
        for case in request["cases"]]
    build, probe, _ = prepared[0]
    prepared[0] = (build, probe, _build(build, request["cases"][0]))
    return prepared


def _build(build: Any, case: dict[str, Any]) -> dict[str, Any]:
    # a case's inputs are built just before its cell runs: a builder may keep what its
    # probe needs in the cases module (a held-out set), so the cases cannot be built ahead
    _seed(int(case.get("seed", 0)))
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    namespace.update(build(**dict(case.get("args", {}))))
    return namespace


_case_time: list[Any] = [0.0, False]


class _CaseTimeout(BaseException):
    """Raised in the cell when its case is past its time (a BaseException: ``except
    Exception`` in a cell does not swallow it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    _case_time[1] = True
    raise _CaseTimeout


def run_cases(request: dict[str, Any], prepared: list[tuple[Any, Any, Any]],
              timeout: float) -> dict[str, Any]:
    """Run the cell on each prepared case in turn, each with ``timeout`` seconds, and stop
    at the first that does not end well (grading stops there too, and a case that went wrong
    may have left the process in any state). Returns the results of the cases run."""
    results = []
    _case_time[0] = timeout
    for index, ((build, probe, namespace), case) in enumerate(zip(prepared, request["cases"])):
        if namespace is None:
            try:
                namespace = _build(build, case)
            except BaseException as exc:
                # not the student's doing (a builder that needs what the sandbox hides, say):
                # the grader runs the cases again one sandbox each, built before it closes
                return _error("internal", f"{type(exc).__name__}: {_short(exc)}")
        _case_time[1] = False
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            result = run({**request, **case}, namespace, probe, first=index == 0)
        except _CaseTimeout:  # in the grader's own steps around the cell: the same verdict
            result = _error("timeout", f"the cell ran past its {timeout:g} s limit")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if _case_time[1]:  # a cell that caught the clock's exception is still out of time
            result = _error("timeout", f"the cell ran past its {timeout:g} s limit")
        results.append(result)
        if result.get("status") != "ok":
            break
    return {"status": "ok", "cases": results}


def run(request: dict[str, Any], namespace: dict[str, Any], probe: Any,
        first: bool = True) -> dict[str, Any]:
    """Run the cell on its prepared inputs, then the probe; returns the plain result (no
    exception escapes but ``_CaseTimeout``). Runs inside the sandbox, with no privilege
    left; the system-call filter is loaded before the ``first`` case's cell."""
    built = dict(namespace)
    # the notebook's imports run inside the sandbox: an import runs code too
    for statement in request.get("preamble", ()):
        try:
            exec(compile(statement, "<imports>", "exec"), namespace)
        except Exception:  # an import of the student's own that this sandbox lacks
            pass
    namespace.update(built)  # the grader's inputs win over a name an import rebinds
    args = dict(request.get("args", {}))
    pristine.top_up()
    restore_libraries = pristine.restore  # bound before the cell can replace it
    # last step before student code: the filter also forbids what building the sandbox needed
    if first and request.get("isolate", True) and syscalls.restrict(
            allow_processes=bool(request.get("processes"))):
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
    threads_before = frozenset(sys._current_frames())
    init = os.getpid()
    try:
        exec(code, namespace)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: all are the cell's
        if os.getpid() != init:  # a process the cell forked: it never speaks for the probe
            os._exit(0)
        _restore(saved_builtins)
        restore_libraries()
        return _exception_result(exc)
    if os.getpid() != init:
        os._exit(0)
    # a cell may replace builtins (isinstance, len, ...) and library functions (np.allclose):
    # the probe and the encoding need the real ones
    _restore(saved_builtins)
    restore_libraries()
    left = set(sys._current_frames()) - threads_before
    if left:
        return _error("thread", f"the cell left {len(left)} thread(s) running; a graded cell "
                      "must finish everything it starts (join every thread) before it ends")
    others = _other_processes() if request.get("processes") else []
    if others:
        return _error("thread", f"the cell left {len(others)} process(es) running; a graded "
                      "cell must finish every process it starts (close its Pool) before it ends")
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
    restore_libraries()  # a probe calls the student's code (a model's forward) too
    return {"status": "ok", "observation": observation}


def _encode(result: dict[str, Any], protections: list[str], limit: int) -> bytes:
    result["protections"] = list(protections)
    try:
        payload = wire.dumps(result)
    except BaseException as exc:  # what the probe found holds something that is not data
        payload = wire.dumps(_error("unsendable", "what the cell produced cannot be sent back "
                                    f"for checking ({type(exc).__name__}: {_short(exc)})"))
    if len(payload) > limit:
        payload = wire.dumps(_error("too_big", "what the cell produced is too large to check"))
    return payload


def _prepare_or_stop(request: dict[str, Any], send: Any, limit: int
                     ) -> list[tuple[Any, Any, Any]]:
    """``prepare``; when the grader's own inputs fail (not the student's doing), say so
    through ``send`` and end this process."""
    try:
        return prepare(request)
    except BaseException as exc:
        send(_encode(_error("internal", f"{type(exc).__name__}: {_short(exc)}"), [], limit))
        os._exit(0)


def _enclose(request: dict[str, Any], limits: _limits.Limits, workdir: str,
             send: Any) -> tuple[list[str], Any, list[tuple[Any, Any, Any]]]:
    """Prepare the run (``prepare``) and sandbox the rest of it (``namespaces.enclose``):
    this process becomes the supervisor, which only relays (``channel``); its child runs
    the cell. Returns, in the child, the protections, the channel to the supervisor (None
    when unenclosed) and the prepared cases."""
    # each case gets the item's time, the run all of them
    cpu = limits.timeout * len(request["cases"])
    if not request.get("isolate", True):
        prepared = _prepare_or_stop(request, send, limits.result)
        _limits.apply(limits, cpu_seconds=cpu)
        return [], None, prepared
    key = secrets.token_bytes(32)
    to_cell_r, to_cell_w = os.pipe()
    from_cell_r, from_cell_w = os.pipe()
    # as root, a control group can hold a few processes of the cell's (see ``cgroups``)
    group = (cgroups.create(str(os.getpid()), limits.memory, PROCESS_TASKS)
             if os.geteuid() == 0 else None)
    # the supervisor moves the cell's process into the group while that process prepares
    # and builds its view (a move waits on the kernel for milliseconds), and says here when
    # it is in
    joined_r, joined_w = os.pipe() if group is not None else (-1, -1)
    ends = [fd for fd in (to_cell_r, to_cell_w, from_cell_r, from_cell_w, joined_r, joined_w)
            if fd >= 0]
    prepared: list[tuple[Any, Any, Any]] = []

    def supervise(child_pid: int) -> None:
        os.close(to_cell_r)
        os.close(from_cell_w)
        try:
            if group is not None:
                os.close(joined_r)
                try:
                    group.add(child_pid)
                    os.write(joined_w, b"1")
                except OSError:
                    pass  # the cell's process reads no byte and runs nothing
                os.close(joined_w)
            channel.supervise(child_pid, from_cell_r, to_cell_w, key, send, limits,
                              (lambda: group.oom_kills() > 0) if group else (lambda: False))
        finally:
            if group is not None:
                group.remove()

    def view_for(uid: int | None) -> view.View:
        # the grader's side first: the view hides the reference and the cases
        prepared.extend(_prepare_or_stop(request, channel.Cell(from_cell_w, to_cell_r).send,
                                         limits.result))
        if group is not None:
            request["processes"] = True
            # the fork server's children default to it; the cell's own processes are forks
            multiprocessing.set_start_method("fork", force=True)
        # nothing the fork server or the grader opened stays reachable: only the output,
        # the two pipes to the supervisor and the one that says the group was joined
        for fd in (to_cell_w, from_cell_r, joined_w):
            if fd >= 0:
                os.close(fd)
        low = 3
        for fd in sorted({from_cell_w, to_cell_r, joined_r} - {-1}):
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 1 << 16)
        return view.standard(code=request["code"], hidden=tuple(request.get("hide", ())),
                             scratch=((workdir, limits.scratch), ("/tmp", limits.scratch)),
                             owner=uid)

    def refuse(why: str) -> NoReturn:  # in the child: a sandbox not whole runs nothing
        channel.Cell(from_cell_w, to_cell_r).send(
            wire.dumps(_error("internal", f"the sandbox could not be built: {why}")))
        os._exit(0)

    try:
        held, enclosed = namespaces.enclose(view_for, os.path.join(workdir, ".view"), workdir,
                                            supervise,
                                            before_fork=lambda: _limits.apply(limits, cpu_seconds=cpu))
    except OSError as exc:
        refuse(str(exc))
    if not enclosed:  # nothing was forked: this process runs the cell, unenclosed
        for fd in ends:
            os.close(fd)
        if group is not None:
            group.remove()
        return held, None, _prepare_or_stop(request, send, limits.result)
    if group is not None:
        joined = os.read(joined_r, 1)
        os.close(joined_r)
        if joined != b"1":
            refuse("its control group could not be joined")
        held.append(cgroups.PROCESSES)
    return held, channel.Cell(from_cell_w, to_cell_r), prepared


def child_main(request: dict[str, Any], conn: Any, workdir: str) -> None:
    """Entry point of a forked child: limit, isolate, run, send plain data, exit."""
    send = conn.send_bytes
    try:
        os.setsid()
    except OSError:
        pass
    limits = _limits.Limits(**request["limits"])
    if "torch" in sys.modules:  # preloaded by the fork server; never imported here
        sys.modules["torch"].set_num_threads(1)
    os.chdir(workdir)
    out = os.open(os.path.join(workdir, "output.txt"), os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    # nothing of the grader's environment: only what the allow-list names
    environment.replace(environment.for_sandbox(workdir, request.get("env", {})))
    sys.stdout = _BoundedText(limits.output)
    sys.stderr = _BoundedText(limits.output)
    held, cell, prepared = _enclose(request, limits, workdir, send)
    request["protections"] = held
    if cell is not None:  # the cell's process never holds the grader's channel (closed above)
        send = cell.send
    result = run_cases(request, prepared, limits.timeout)
    payload = _encode(result, request["protections"], limits.result)
    try:
        send(payload)
    finally:
        os._exit(0)
