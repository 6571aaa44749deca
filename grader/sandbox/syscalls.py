"""A system-call filter (seccomp) for processes that run student code (Linux).

The namespaces of ``namespaces`` are set up by a process that is root inside them, so without a
filter a cell could undo them: unmount the file system that hides the reference, remount the
root writable, join another namespace, trace the grader, or flood the machine with processes
(``RLIMIT_NPROC`` does not bind root). The filter refuses exactly those calls with EPERM, so
the student sees a plain ``PermissionError``; threads (torch, BLAS) are still allowed.

It is loaded last, after the sandbox is built and just before student code runs, and it
survives ``exec`` (the notebook kernel is exec'ed after it). Where libseccomp is missing, the
run goes on without it and says so (``restrict`` returns False).
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from typing import Any

from nngrade.grader.sandbox.privileges import PR_SET_NO_NEW_PRIVS

FILTERED = "no other programs, mounts, namespaces or tracing (seccomp)"

# flags of clone(2) and unshare(2)
CLONE_THREAD = 0x00010000
CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
CLONE_NEWTIME, CLONE_NEWCGROUP = 0x00000080, 0x02000000
CLONE_NEWUTS, CLONE_NEWIPC = 0x04000000, 0x08000000
# a thread may take none of them (a new mount namespace is a copy in which the hiding mounts
# could be undone)
_CLONE_NAMESPACES = (CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWTIME,
                     CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC)

_REFUSED = (
    # processes: a thread is a clone with CLONE_THREAD, handled below
    "fork", "vfork", "execveat",
    # undoing the file-system view or leaving the namespaces
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # reaching into other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    # the machine itself
    "reboot", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "swapon", "swapoff", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "keyctl", "add_key", "request_key",
)


PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


class _Program(ctypes.Structure):
    """``struct sock_fprog``: a filter as the kernel takes it."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_compiled: dict[tuple[bool, bool], bytes] = {}


def _rules(sc: Any, allow_exec: bool, allow_processes: bool) -> Any:
    refuse = sc.ERRNO(errno.EPERM)
    rules = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in _REFUSED:
        if allow_processes and name in ("fork", "vfork"):
            continue
        try:
            rules.add_rule(refuse, name)
        except (ValueError, RuntimeError, OSError):  # a call this kernel does not know
            pass
    if not allow_processes:
        rules.add_rule(refuse, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    for flag in _CLONE_NAMESPACES:
        rules.add_rule(refuse, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read: "not implemented" makes the
    # C library fall back to clone, whose flags are checked above
    rules.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    if not allow_exec:
        rules.add_rule(refuse, "execve")
    return rules


def compiled(*, allow_exec: bool = False, allow_processes: bool = False) -> bytes | None:
    """The filter as the program the kernel runs (BPF), built by libseccomp once per process
    and kept: the fork server builds the ones its children load (``warm``), which spares
    each sandbox 1.5 ms. None where libseccomp is missing or cannot build it."""
    key = (allow_exec, allow_processes)
    if key not in _compiled:
        try:
            import pyseccomp as sc
        except (ImportError, OSError, AttributeError):  # no libseccomp on this machine
            return None
        try:
            with open(os.memfd_create("nngrade-seccomp"), "w+b") as exported:
                _rules(sc, allow_exec, allow_processes).export_bpf(exported)
                exported.seek(0)
                program = exported.read()
        except Exception:  # a filter that cannot be built leaves the run as it was
            return None
        if not program or len(program) % 8:
            return None
        _compiled[key] = program
    return _compiled[key]


def restrict(*, allow_exec: bool = False, allow_processes: bool = False) -> bool:
    """Load the filter into this process (and all it execs); True if it is in force.

    ``allow_exec`` keeps ``execve`` open for a launcher that must still become the kernel.
    ``allow_processes`` lets ``fork`` through (a control group then caps the processes'
    memory and number, see ``cgroups``); otherwise new processes are refused, so code run
    after it can at most replace its own process, never start another. Loaded as libseccomp
    loads it: ``no_new_privs`` first, then the program."""
    program = compiled(allow_exec=allow_exec, allow_processes=allow_processes)
    if program is None or not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _Program(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0),
                  ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        return False
    return libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog),
                      ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0
