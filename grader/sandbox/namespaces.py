"""Kernel namespaces for a process that runs student code (Linux): no network, no IPC with
the machine, a mount table and a PID namespace of its own.

``enter`` is applied in the sandbox's outer process, after its inputs are built; its child,
the init of a new PID namespace (``own_pid_namespace``), then builds the file-system view
(``view``) and drops its privileges (``privileges``). Every step is tried and the ones that
took effect are returned, so the report can say which protections were in force; where the
kernel refuses (no user namespaces), grading goes on under the resource limits alone and
says so.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any, Callable

from nngrade.grader.sandbox.cgroups import PROCESSES
from nngrade.grader.sandbox.privileges import NO_CAPABILITIES, NO_PRIVILEGE
from nngrade.grader.sandbox.syscalls import (CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS,
                                             CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS, FILTERED)
from nngrade.grader.sandbox.view import ALLOW_LISTED, OWN_PROC

MS_REC, MS_PRIVATE = 0x4000, 0x40000

NO_NETWORK = "no network"
OWN_PIDS = "its own process namespace (every process it starts dies with it)"
# every protection a sandboxed run can report; what a run lacks is named in the warning
ALL = (NO_NETWORK, ALLOW_LISTED, OWN_PROC, OWN_PIDS, NO_PRIVILEGE, FILTERED)
# what a report may list: the above, and the weaker privilege drop of a user namespace
REPORTED = (*ALL, NO_CAPABILITIES, PROCESSES)


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


_FLAGS = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS


def _enter(libc: ctypes.CDLL, user_namespace: bool | None) -> bool | None:
    """New mount, network, IPC and UTS namespaces, inside a new user namespace where the
    process may not create them directly (an unprivileged user) or when ``user_namespace``
    is True. Returns whether a user namespace was entered, None if nothing held."""
    if not user_namespace and libc.unshare(_FLAGS) == 0:
        return False
    if user_namespace is False:
        return None
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(CLONE_NEWUSER | _FLAGS) != 0:
        return None
    try:  # map ourselves to root inside, so mounts are allowed there
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    except OSError:
        return None
    return True


def enter(*, user_namespace: bool | None = None) -> tuple[list[str], bool]:
    """Cut the network and IPC, and give this process a private mount table.

    ``user_namespace``: None tries the plain namespaces, then a user namespace (the way
    without privileges); True goes the unprivileged way only, False never does. Returns the
    protections that held and whether the process is now in a user namespace of its own
    (its privileges are then dropped by emptying its capabilities, not by a change of user).
    """
    libc = _libc()
    entered = None if libc is None else _enter(libc, user_namespace)
    if entered is None or libc is None:
        return [], False
    if libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None) != 0:
        return [], entered
    return [NO_NETWORK], entered


def own_pid_namespace() -> bool:
    """Put this process's next child in a new PID namespace, as its init.

    When that init dies, the kernel kills every process of the namespace, including any that
    left the process group with setsid(); so killing the group leaves nothing behind."""
    libc = _libc()
    return libc is not None and libc.unshare(CLONE_NEWPID) == 0


def enclose(view_for: Callable[[int | None], Any], root: str, workdir: str,
            supervise: Callable[[int], None], *, user_namespace: bool | None = None,
            before_fork: Callable[[], None] | None = None) -> tuple[list[str], bool]:
    """Put the rest of this process's work in a sandbox; returns what held.

    Enters new namespaces (``enter``), then forks the init of a new PID namespace. This
    process becomes its supervisor: it calls ``supervise(child_pid)`` and exits. The child
    builds ``view_for(uid)`` under ``root`` (``view.build``), with ``uid`` the unprivileged
    user it will become (None in a user namespace), drops every privilege
    (``privileges.drop``) and returns, with the protections that held and whether it got
    its own PID namespace. Where the namespaces cannot be had, nothing is forked and the
    caller goes on unenclosed, with the (empty) protections saying so. A view that cannot be
    built raises OSError in the child, which must then not run anything."""
    from nngrade.grader.sandbox import privileges, view

    held, in_user_namespace = enter(user_namespace=user_namespace)
    if before_fork is not None:
        before_fork()
    if not held or not own_pid_namespace():
        return held, False
    uid = None if in_user_namespace or os.geteuid() != 0 else privileges.sandbox_uid()
    child = os.fork()
    if child:
        try:
            supervise(child)
        finally:
            os._exit(0)
    held.append(OWN_PIDS)
    # pivoting into the view moves the root of every process of the mount namespace: the
    # child takes a namespace of its own first, so the supervisor keeps the machine's
    # (where the sandbox's control group is)
    libc = _libc()
    if libc is None or libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "a mount namespace of its own for the view")
    held += view.build(view_for(uid), root, workdir)
    dropped = privileges.drop(uid)
    if dropped:
        held.append(dropped)
    return held, True
