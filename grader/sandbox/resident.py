"""A warm fork server that outlives its grader, for a while (``--keep-warm SECONDS``).

Every command's fixed cost is the fork server's imports (what the exercise's notebook
imports: torch and scikit-learn are 2-2.5 s of one core). With ``--keep-warm``, the server is
started by a small keeper (``python -m nngrade.grader.sandbox.resident``) in a session of its
own, and the next command of the same user, interpreter, environment, preload and nngrade
forks from it instead of importing again. The keeper ends the server once nobody has used it
for the given seconds, or when the server dies.

What is shared is only what a per-command fork server holds: the declared libraries, imported
before any exercise content, hidden case or submission is known (``warm``). Every child still
builds its own sandbox after the fork. The server's socket sits in a folder that only this
user can enter (checked: owned by us, mode 0700, not a link), the same trust as the
per-command server's socket; sandboxed code has no path to either. Everything the server
could differ in is in its key: the interpreter, ``sys.path``, the whole environment (the
children's allow-list is read from it), the preload, nngrade's own files and the preloaded
libraries' files, so a change of any of them starts another server.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from multiprocessing import forkserver, resource_tracker
from pathlib import Path
from typing import Sequence

from nngrade.config import ENV_KEEP_WARM, ENV_RUNTIME_DIR

_SANDBOX = Path(__file__).resolve().parent
_VOLATILE = frozenset({ENV_KEEP_WARM, "_", "PWD", "OLDPWD", "SHLVL"})
_stamp: Path | None = None


def idle_seconds() -> float:
    """How long a kept server may wait unused (``NNGRADE_KEEP_WARM``); 0: keep none."""
    try:
        return max(0.0, float(os.environ.get(ENV_KEEP_WARM) or 0))
    except ValueError:
        return 0.0


def folder() -> Path:
    """This user's folder for keepers' addresses, made 0700; raises OSError when it exists
    but is not this user's private folder (another user could then point us at their server)."""
    root = os.environ.get(ENV_RUNTIME_DIR) or os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = Path(root) / f"nngrade-warm-{os.getuid()}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
            or stat.S_IMODE(info.st_mode) & 0o077):
        raise OSError(f"{path} is not a private folder of this user")
    return path


def key(modules: Sequence[str]) -> str:
    """What a kept server must have been started with to serve this process."""
    digest = hashlib.sha256()
    # the idle time is not part of it (a shorter --keep-warm uses the same server), nor what
    # a shell sets anew for every command and folder (the server runs from "/", and no child
    # is given these: its environment is an allow-list)
    environment = sorted((k, v) for k, v in os.environ.items() if k not in _VOLATILE)
    digest.update(json.dumps([sys.executable, sys.path, environment, list(modules)]).encode())
    files = sorted(_SANDBOX.parent.rglob("*.py"))
    for name in dict.fromkeys(m.split(".")[0] for m in modules):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec and spec.origin and os.path.exists(spec.origin):
            files.append(Path(spec.origin))
    for path in files:  # an edited or upgraded file changes its size or time
        info = path.stat()
        digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def _read(stamp: Path) -> str | None:
    """The address of the server a live keeper wrote to ``stamp``, else None."""
    try:
        keeper, address, _ = json.loads(stamp.read_text())
        # its own keeper, not a process that took the pid of one that was killed
        with open(f"/proc/{int(keeper)}/cmdline", "rb") as cmdline:
            alive = os.fsencode(stamp) + b"\0" in cmdline.read()
    except (OSError, ValueError, TypeError):
        return None
    return str(address) if alive and os.path.exists(address) else None


def attach(modules: Sequence[str], idle: float) -> None:
    """Make this process's forkserver the kept one for ``modules``, starting a keeper when
    none is alive; raises OSError when none could be had (the caller starts its own)."""
    global _stamp
    where = folder()
    name = key(modules)
    stamp = where / f"{name}.json"
    with open(where / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        address = _read(stamp)
        if address is None:
            keeper = subprocess.Popen([sys.executable, "-m", "nngrade.grader.sandbox.resident",
                                       str(stamp), str(idle), *modules],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True,
                                      close_fds=True)
            deadline = time.monotonic() + 30
            while address is None and keeper.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
                address = _read(stamp)
        if address is None:
            raise OSError("the kept fork server did not start")
        _stamp = stamp
        used()  # under the lock: the keeper cannot be deciding to end meanwhile
    server = forkserver._forkserver
    server._forkserver_address = address
    server._forkserver_alive_fd = os.open(os.devnull, os.O_RDONLY)  # a child's, unused
    server.ensure_running = resource_tracker.ensure_running  # the keeper runs the server


def used() -> None:
    """Tell the keeper its server was just used (its idle time starts again)."""
    if _stamp is not None:
        try:
            os.utime(_stamp)
        except OSError:
            pass


def _keep(stamp: Path, idle: float, modules: list[str]) -> None:
    os.chdir("/")  # the folder it was started from may go; children get their grader's
    # stopped: leave through the cleanup below (the stamp, multiprocessing's socket folder)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = forkserver._forkserver
    server.set_forkserver_preload([*modules, "nngrade.grader.sandbox.warm"])
    server.ensure_running()
    partial = stamp.with_suffix(".partial")
    partial.write_text(json.dumps([os.getpid(), server._forkserver_address,
                                   server._forkserver_pid]))
    os.replace(partial, stamp)
    with open(stamp.with_suffix(".lock"), "w") as lock:
        try:
            while True:
                time.sleep(0.5)
                done, _ = os.waitpid(server._forkserver_pid, os.WNOHANG)
                if done:
                    break
                if time.time() - stamp.stat().st_mtime > idle:
                    # a command reads the address and marks it used under this lock: once
                    # it is held and the stamp still idle, no command can be about to use it
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    if time.time() - stamp.stat().st_mtime > idle:
                        break
                    fcntl.flock(lock, fcntl.LOCK_UN)
        except OSError:  # the stamp removed: stop
            pass
        finally:
            try:
                if json.loads(stamp.read_text())[0] == os.getpid():
                    stamp.unlink()
            except (OSError, ValueError):
                pass
    # leaving closes the server's "alive" pipe: the server ends at once (``warm``)


if __name__ == "__main__":
    _keep(Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3:])
