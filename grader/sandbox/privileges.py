"""Drop every privilege before student code runs: no capabilities, ``no_new_privs``, and a
user that owns nothing of the grader's.

Run as root, the process becomes a user id of its own (``sandbox_uid``: unique among the
runs alive at the same time, so a limit on processes binds each run separately), which owns
no file on the machine; owner checks, ``CAP_DAC_*`` and ptrace-style access to other
processes then fail by construction. Run in a user namespace (the way in of a grader that
is not root), it stays the namespace's root, mapped to the grader's user outside, but with
every capability set empty. Either way the capability sets (effective, permitted,
inheritable, ambient, bounding) end empty and ``no_new_privs`` is set, so no executable can
give them back.
"""

from __future__ import annotations

import ctypes
import os

PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT = 38, 24, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAPABILITY_V3 = 0x20080522
FIRST_SANDBOX_UID = 200_000

NO_PRIVILEGE = "no privilege (no capabilities, no_new_privs, an unprivileged user)"
NO_CAPABILITIES = "no capabilities and no_new_privs (root of its own user namespace only)"


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def sandbox_uid(pid: int | None = None) -> int:
    """The user id a run as root becomes: distinct for every process alive at once."""
    return FIRST_SANDBOX_UID + (os.getpid() if pid is None else pid)


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 63


def status() -> dict[str, str]:
    """The capability sets, user ids and NoNewPrivs of this process (/proc/self/status)."""
    wanted = ("Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")
    found = {}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in wanted:
                    found[key] = value.strip()
    except OSError:
        pass
    return found


def unprivileged() -> bool:
    """Every capability set is empty and no_new_privs is set."""
    seen = status()
    caps = [seen.get(k, "") for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")]
    return all(c and int(c, 16) == 0 for c in caps) and seen.get("NoNewPrivs") == "1"


def drop(uid: int | None) -> str | None:
    """Drop to ``uid`` (as root) or keep the user (in a user namespace, ``uid`` None), with
    every capability set emptied; returns the protection that held, or None."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    for cap in range(_last_capability() + 1):  # needs CAP_SETPCAP: done while we have it
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return None
    if uid is not None:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)  # leaving uid 0 clears effective and permitted sets
        except OSError:
            return None
    header = _Header(_CAPABILITY_V3, 0)
    data = (_Data * 2)()
    if libc.capset(ctypes.byref(header), ctypes.byref(data)) != 0:
        return None
    if not unprivileged():
        return None
    return NO_PRIVILEGE if uid is not None else NO_CAPABILITIES
