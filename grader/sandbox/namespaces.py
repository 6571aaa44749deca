"""Kernel namespaces for a process that runs student code (Linux): no network, a read-only
view of the machine, and the reference, caches and other submissions hidden.

Applied inside the limited process itself, after its inputs are built and before any student
code runs. Every step is tried and the ones that took effect are returned, so the report can
say which protections were in force; where the kernel refuses (no privilege, no user
namespaces), grading goes on under the resource limits alone and says so.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Iterable

from nngrade.grader.sandbox.syscalls import (CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER,
                                     FILTERED)

MS_RDONLY, MS_NOSUID, MS_NODEV = 0x1, 0x2, 0x4
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000

NO_NETWORK = "no network"
READ_ONLY = "read-only file system outside its working directory"
HIDDEN = "reference, caches and other submissions hidden"
OWN_PIDS = "its own process namespace (every process it starts dies with it)"
ALL = (NO_NETWORK, READ_ONLY, HIDDEN, OWN_PIDS, FILTERED)


def _libc() -> ctypes.CDLL | None:
    """The C library, where it has the Linux calls used here (None on macOS and the like:
    the run then goes on with resource limits alone, and says so)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    return libc if all(hasattr(libc, name) for name in ("unshare", "mount")) else None


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as out:
        out.write(text)


def _enter(libc: ctypes.CDLL, user_namespace: bool | None) -> bool:
    """New mount and network namespaces, inside a new user namespace where the process may
    not create them directly (an unprivileged user) or when ``user_namespace`` is True."""
    if not user_namespace and libc.unshare(CLONE_NEWNS | CLONE_NEWNET) == 0:
        return True
    if user_namespace is False:
        return False
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0:
        return False
    try:  # map ourselves to root inside, so mounts are allowed there
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    except OSError:
        return False
    return True


def _mount(libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None,
           flags: int, data: str | None = None) -> bool:
    enc = (lambda s: s.encode() if s is not None else None)
    return libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags),
                      enc(data)) == 0


def enter(workdir: str, scratch_bytes: int | None = None, *,
          user_namespace: bool | None = None) -> list[str]:
    """Cut the network and make everything but ``workdir`` read-only; returns what held.

    ``user_namespace``: None tries the plain namespaces, then a user namespace (the way
    without privileges); True goes the unprivileged way only, False never does.

    With ``scratch_bytes``, ``workdir`` becomes a private memory file system of that size, so
    a cell cannot fill the disk; without, it stays the shared folder (the kernel's IPC
    sockets live there and the grader must see them)."""
    libc = _libc()
    if libc is None or not _enter(libc, user_namespace):
        return []
    held = [NO_NETWORK]
    if not _mount(libc, None, "/", None, MS_REC | MS_PRIVATE):
        return held
    # the working directory becomes a mount of its own, so it stays writable below
    if scratch_bytes:
        own = _mount(libc, "tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV,
                     f"size={scratch_bytes},mode=700")
    else:
        own = _mount(libc, workdir, workdir, None, MS_BIND | MS_REC)
    if own and _mount(libc, None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY):
        held.append(READ_ONLY)
    os.chdir(workdir)  # the old working directory still points below the read-only mount
    return held


def hide(paths: Iterable[str]) -> bool:
    """Cover each existing folder with an empty, unreadable file system; True if all held."""
    libc = _libc()
    if libc is None:
        return False
    ok = True
    for path in paths:
        if os.path.isdir(path):
            ok = _mount(libc, "none", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY,
                        "size=4k,mode=000") and ok
    return ok


def own_pid_namespace() -> bool:
    """Put this process's next child in a new PID namespace, as its init.

    When that init dies, the kernel kills every process of the namespace, including any that
    left the process group with setsid(); so killing the group leaves nothing behind."""
    libc = _libc()
    return libc is not None and libc.unshare(CLONE_NEWPID) == 0
