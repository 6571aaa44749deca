"""Execute a whole notebook once, as the student would, in a limited kernel.

This run gives the feedback its context (which cells of the notebook's own run failed) and
the values the notebook leaves behind, for checks that need the student's trained result.
The kernel runs under OS limits (see ``kernel_launch``) in a private working directory, with
a per-cell timeout and a cap on the output the grader keeps.
"""

from __future__ import annotations

import atexit
import copy
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from nngrade.config import MESSAGE_CHARS, METADATA_KEY, PROBLEM_CHARS, PROTECTIONS_BYTES
from nngrade.grader.sandbox import environment, wire
from nngrade.grader.sandbox.limits import GiB, MiB

KERNEL_NAME = "nngrade-sandbox"


@dataclass(frozen=True)
class KernelLimits:
    """Limits of one notebook run."""

    cell_timeout: float = 60.0
    memory: int = 8 * GiB
    cpu: int = 900
    output: int = 2 * MiB
    startup_timeout: float = 60.0
    message: int = 64 * MiB  # a larger message from the kernel is dropped before it is read


@dataclass(frozen=True)
class CellError:
    """A cell of the notebook's own run that raised."""

    index: int
    item: str | None
    ename: str
    evalue: str

    def describe(self) -> str:
        """One line for the feedback."""
        where = f"cell {self.index + 1}" + (f" ({self.item})" if self.item else "")
        return f"{where} raised {self.ename}: {self.evalue}"


@dataclass(frozen=True)
class Execution:
    """What the notebook's own run produced: errors, a fatal stop if any, final values."""

    cell_errors: tuple[CellError, ...] = ()
    stopped: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    output_truncated: bool = False
    protections: tuple[str, ...] | None = None  # None: the kernel never said (it did not start)
    startup_seconds: float = 0.0  # of ``seconds``: until the first cell could start
    notebook: str = ""  # the executed notebook, outputs within the cap, for review


def _kernelspec(directory: Path, limits: KernelLimits, workdir: Path | None,
                hide: Sequence[str], report: Path, preload: Sequence[str]) -> None:
    spec_dir = directory / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "nngrade.grader.sandbox.kernel_launch",
            "--memory", str(limits.memory), "--cpu", str(limits.cpu), "--fsize", str(64 * MiB),
            "--report", str(report), *(a for m in preload for a in ("--preload", m))]
    if workdir is not None:
        argv += ["--workdir", str(workdir), *(a for p in hide for a in ("--hide", p))]
    argv += ["--", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "nngrade sandbox", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))


def _state_cell(names: Sequence[str], marker: str) -> Any:
    import nbformat

    source = (
        "def _nngrade_state():\n"
        "    import json\n"
        "    from nngrade.grader.sandbox import environment, wire\n"
        "    found = {}\n"
        f"    for name in {list(names)!r}:\n"
        "        if name in globals():\n"
        "            try:\n"
        "                value = globals()[name]\n"
        "                if callable(getattr(value, 'state_dict', None)):  # a module: its weights\n"
        "                    value = dict(value.state_dict())\n"
        "                found[name] = wire.to_plain(value)\n"
        "            except Exception:\n"
        "                found[name] = {'__type__': type(globals()[name]).__name__}\n"
        f"    print({marker!r} + json.dumps(found, allow_nan=False))\n"
        "_nngrade_state()\n"
    )
    return nbformat.v4.new_code_cell(source)


def _read_state(cell: Any, marker: str) -> dict[str, Any] | None:
    """The final values the state cell printed; None if its line never arrived."""
    for out in cell.get("outputs", []):
        for line in str(out.get("text", "")).splitlines():
            if line.startswith(marker):
                value = wire.loads(line[len(marker):].encode())
                return value if isinstance(value, dict) else {}
    return None


def _protections(report: Path) -> tuple[str, ...] | None:
    try:
        text = report.read_text(encoding="utf-8")[:PROTECTIONS_BYTES]
    except (OSError, UnicodeDecodeError):
        return None
    return tuple(p for p in text.split(";") if p)


def _item_of(cell: Any) -> str | None:
    meta = cell.get("metadata", {}).get(METADATA_KEY, {})
    return meta.get("item") if isinstance(meta, dict) else None


def _where(nb: Any, index: int | None) -> str:
    if index is None:
        return "a cell"
    item = _item_of(nb.cells[index])
    return f"cell {index + 1}" + (f" ({item})" if item else "")


def _errors(nb: Any, upto: int) -> tuple[CellError, ...]:
    found = []
    for index, cell in enumerate(nb.cells[:upto]):
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if out.get("output_type") == "error":
                found.append(CellError(index, _item_of(cell), str(out.get("ename", "")),
                                       str(out.get("evalue", ""))[:MESSAGE_CHARS]))
    return tuple(found)


@dataclass
class _Kernel:
    """A started kernel (its process may still be importing) and the folder it lives in."""

    tmp: Path
    report: Path
    km: Any  # a kernel_client.BoundedKernelManager
    key: tuple


def _key(limits: KernelLimits, env: dict[str, str] | None, isolated: bool,
         hide: Sequence[str], preload: Sequence[str]) -> tuple:
    # everything a kernel's launch depends on: a spare is only used for a run that would
    # have launched exactly the same kernel
    return (limits, tuple(sorted((env or {}).items())), isolated, tuple(hide), tuple(preload))


def _launch(key: tuple) -> _Kernel:
    """Start a kernel for ``key``; returns as soon as its process is spawned."""
    from nngrade.grader.grading import kernel_client as jupyter

    limits, env, isolated, hide, preload = key
    tmp = Path(tempfile.mkdtemp(prefix="nngrade-kernel-"))
    try:
        cwd = tmp / "work"
        cwd.mkdir()
        report = tmp / "protections"
        _kernelspec(tmp / "kernels", limits, cwd if isolated else None, hide, report, preload)
        km = jupyter.manager(KERNEL_NAME, cwd, tmp / "kernels", limits.message)
        # nothing of the grader's environment but what the allow-list names; caches in its folder
        kernel_env = {**environment.for_sandbox(str(cwd), dict(env)),
                      "PYDEVD_DISABLE_FILE_VALIDATION": "1", "IPYTHONDIR": str(cwd / ".ipython"),
                      "JUPYTER_RUNTIME_DIR": str(cwd / ".jupyter"),
                      "JUPYTER_DATA_DIR": str(cwd / ".jupyter"),
                      "JUPYTER_CONFIG_DIR": str(cwd / ".jupyter")}
        jupyter.run_sync(km.start_kernel)(cwd=str(cwd), env=kernel_env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _Kernel(tmp, report, km, key)


def _discard(k: _Kernel) -> None:
    from nngrade.grader.grading import kernel_client as jupyter

    jupyter.stop(k.km)
    shutil.rmtree(k.tmp, ignore_errors=True)


class Spares:
    """Kernels started ahead of the run that will use them, so that a kernel's start-up
    (a process, the sandbox, ipykernel's imports and the exercise's declared modules:
    0.6 s to a few seconds) overlaps the previous submission instead of adding to it.

    A spare is fresh: started before any notebook is known and used for exactly one run,
    so nothing of one submission reaches the next. It is used only when the run would
    have launched the same kernel (limits, environment, hidden folders, preload); a run with
    another kind discards it. At most ``budget`` spares are ever started (a batch knows how
    many runs are left, so the last one starts none). ``close`` stops the spare; call it
    when grading ends.
    """

    def __init__(self, budget: int) -> None:
        self._lock = threading.Lock()
        self._ready: _Kernel | None = None
        self._pending: threading.Thread | None = None
        self._closed = False
        self._budget = budget
        atexit.register(self.close)  # a library user who never closes leaves no kernel

    def take(self, key: tuple) -> _Kernel | None:
        """The spare for ``key`` if one is there and alive, else None; a spare of another
        kind is stopped."""
        with self._lock:
            pending = self._pending
        if pending is not None:  # spawned in a moment: sooner than launching another
            pending.join()
        with self._lock:
            spare, self._ready = self._ready, None
        if spare is None:
            return None
        if spare.key != key or not _alive(spare):
            _discard(spare)
            return None
        return spare

    def ahead(self, *, limits: KernelLimits = KernelLimits(), env: dict[str, str] | None = None,
              isolated: bool = True, hide: Sequence[str] = (),
              preload: Sequence[str] = ()) -> None:
        """Start a spare for runs with these arguments of ``execute``, in the background."""
        self.refill(_key(limits, env, isolated, hide, preload))

    def refill(self, key: tuple) -> None:
        """Start a spare for ``key`` in the background, unless one is there or starting, or
        the budget is spent."""
        with self._lock:
            if self._closed or self._budget <= 0 or self._ready is not None or (
                    self._pending is not None and self._pending.is_alive()):
                return
            self._budget -= 1
            self._pending = threading.Thread(target=self._start, args=(key,), daemon=True,
                                             name="nngrade-spare-kernel")
            self._pending.start()

    def _start(self, key: tuple) -> None:
        try:
            spare = _launch(key)
        except Exception:  # the run that needs it will launch its own and report why
            return
        with self._lock:
            if not self._closed and self._ready is None:
                self._ready, spare = spare, None
        if spare is not None:
            _discard(spare)

    def close(self) -> None:
        """Stop the spare (waiting for one that is starting); later refills do nothing."""
        with self._lock:
            self._closed = True
            pending = self._pending
        if pending is not None:
            pending.join()
        with self._lock:
            spare, self._ready = self._ready, None
        if spare is not None:
            _discard(spare)
        atexit.unregister(self.close)


def _alive(k: _Kernel) -> bool:
    from nngrade.grader.grading import kernel_client as jupyter

    try:
        return bool(jupyter.run_sync(k.km.is_alive)())
    except Exception:
        return False


def execute(nb: Any, *, state_names: Sequence[str] = (), limits: KernelLimits = KernelLimits(),
            env: dict[str, str] | None = None, isolated: bool = True,
            hide: Sequence[str] = (), spares: Spares | None = None,
            preload: Sequence[str] = ()) -> Execution:
    """Run every code cell of a copy of ``nb`` in a fresh limited kernel; never raises for
    anything the notebook does. ``isolated`` cuts the kernel's network and makes all but its
    working directory read-only (where the machine allows); ``hide`` folders are covered.
    The kernel imports ``preload`` (the exercise's declared modules) before the first cell,
    binding no name: a notebook that forgets an import still fails as it would anywhere.
    With ``spares``, the kernel is a spare started ahead when one of this kind is ready,
    and another is started for the next run."""
    work = copy.deepcopy(nb)
    for cell in work.cells:
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
    marker = f"NNGRADE-STATE-{secrets.token_hex(8)}:"
    n_cells = len(work.cells)
    work.cells.append(_state_cell(state_names, marker))
    started = time.monotonic()
    key = _key(limits, env, isolated, hide, preload)
    try:
        k = (spares.take(key) if spares else None) or _launch(key)
    except Exception as exc:  # a kernel that cannot start is this submission's problem only
        return Execution((), "the notebook could not be run: "
                         f"{type(exc).__name__}: {str(exc)[:PROBLEM_CHARS]}",
                         seconds=time.monotonic() - started)
    finally:
        if spares:
            spares.refill(key)
    # nbclient and jupyter_client load only when a notebook is run (0.2 s a process)
    from nngrade.grader.grading import kernel_client as jupyter

    client = jupyter.CappedClient(
        work, limits.output, n_cells, km=k.km, timeout=int(limits.cell_timeout),
        startup_timeout=int(limits.startup_timeout), allow_errors=True,
        record_timing=False, kernel_name=KERNEL_NAME,
        # a cell answered but its output never ended: the connection went with a refused
        # message, and every later cell would wait for it again (4 s each)
        raise_on_iopub_timeout=True)
    stopped = None
    try:
        client.execute()
    except jupyter.CellTimeoutError as exc:
        if "IOPub" in str(exc):
            stopped = (f"the output of {_where(work, client.current)} was cut off (one output "
                       f"over {limits.message // MiB} MiB is refused), so the run was stopped there")
        else:
            stopped = (f"{_where(work, client.current)} ran past its {limits.cell_timeout:g} s "
                       "limit, so the run was stopped there")
    except jupyter.DeadKernelError:
        stopped = (f"the kernel died in {_where(work, client.current)}, most likely by using "
                   f"more than its {limits.memory // GiB} GiB of memory or its CPU time")
    except Exception as exc:  # a kernel that cannot start is this submission's problem only
        stopped = f"the notebook could not be run: {type(exc).__name__}: {str(exc)[:PROBLEM_CHARS]}"
    finally:
        # nbclient leaves its exit handler registered when the kernel dies while starting,
        # after dropping the manager that handler needs: at exit it printed a traceback
        atexit.unregister(client._cleanup_kernel)
        jupyter.stop(k.km)
        protections = _protections(k.report)
        shutil.rmtree(k.tmp, ignore_errors=True)
    state: dict[str, Any] = {}
    if stopped is None:
        try:
            found = _read_state(work.cells[-1], marker)
        except wire.ObservationError:
            found = {}
        failed = [o for o in work.cells[-1].get("outputs", []) if o.get("output_type") == "error"]
        if found is None and failed:  # the grader's own cell could not run in this kernel
            stopped = ("the notebook's final values could not be read back: "
                       f"{failed[0].get('ename', '')}: {str(failed[0].get('evalue', ''))[:MESSAGE_CHARS]}")
        elif found is None:
            # zmq drops a message over the cap and the connection with it, so what followed
            # it is lost too
            stopped = ("the notebook's final values could not be read back: its output was cut "
                       f"off (one output over {limits.message // MiB} MiB is refused)")
        state = found or {}
    startup = (client.first_cell_at or time.monotonic()) - started
    return Execution(_errors(work, n_cells), stopped, state, time.monotonic() - started,
                     client.truncated, protections, startup, _reviewed(work, n_cells))


def _reviewed(work: Any, n_cells: int) -> str:
    """The executed notebook as the student wrote it: the grader's own state cell removed."""
    import nbformat

    kept = copy.copy(work)
    kept.cells = work.cells[:n_cells]
    try:
        return nbformat.writes(kept)
    except Exception:  # an output nbformat cannot write is not worth losing the grade over
        return ""
