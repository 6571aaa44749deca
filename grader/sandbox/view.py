"""The file system a sandbox sees: built from an allow-list, never "everything but".

A fresh, empty root (a small memory file system) receives, read-only and at their own
paths, only what code needs to run: the interpreter and its libraries (the prefixes and the
import path), the system's libraries, a few files of ``/etc``, the exercise's data; a
minimal ``/dev``; a ``/proc`` of the sandbox's own PID namespace; and, writable, its own
scratch folder and ``/tmp``. The process then pivots into that root and detaches the old one,
so nothing else of the machine (the grader's home, ``/tmp``, submissions, output folders,
other kernels' sockets) has a path at all. Folders inside an allowed path that must stay
unseen (the reference inside an installed package, caches) are covered by an empty,
unreadable file system.

Only the process that will run code builds its view, after it entered new mount and PID
namespaces (``namespaces``) and before it drops its privileges (``privileges``).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import platform
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterable

from nngrade.config import APP_NAME, ENV_CACHE_DIR, ENV_DATA_DIR

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

ALLOW_LISTED = "a file system built from an allow-list (interpreter, libraries, data, scratch)"
OWN_PROC = "a /proc of its own (no other process can be named, read or signalled)"

# system paths every Python process needs; the rest of /etc (credentials, package manager
# tokens, other services' settings) is left out
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
       "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/hosts", "/etc/fonts",
       "/etc/alternatives", "/etc/mime.types", "/etc/matplotlibrc")
DEVICES = ("null", "zero", "full", "random", "urandom")


@dataclass(frozen=True)
class View:
    """What a sandbox sees: ``readable`` paths bound read-only at their own place; memory
    file systems of the given size at the ``scratch`` paths (writable, owned by ``owner``);
    ``bound`` host folders writable at their own place (a kernel's folder, whose sockets the
    grader must reach); ``hidden`` paths covered."""

    readable: tuple[str, ...]
    scratch: tuple[tuple[str, int], ...] = ()
    bound: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    owner: int | None = None  # the uid the scratch belongs to (the unprivileged user)
    devices: tuple[str, ...] = field(default=DEVICES)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None,
           flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


# packages of nngrade that sandboxed code may import (a notebook imports nngrade.datasets);
# an editable install maps each to a folder of its own
PACKAGES = ("nngrade", "nngrade.grader", "nngrade.datasets", "nngrade.exercises")


def _shared_folders() -> set[str]:
    """Folders that hold anyone's files: never part of a view as a whole."""
    return {os.sep, os.path.realpath(tempfile.gettempdir()), "/tmp", "/var/tmp", "/dev/shm",
            os.path.realpath(os.path.expanduser("~")), os.path.realpath(os.getcwd())}


def _script_folder() -> str | None:
    """The folder of the script this interpreter runs (``python grade.py``), which Python put
    first on the import path: where a script lives (an instructor's course folder) is not
    code a sandbox needs. None when it runs a module (``-m``: the current folder) or no file."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        return None
    path = getattr(main, "__file__", None)
    return os.path.dirname(os.path.realpath(path)) if path else None


_known: dict[tuple[Any, ...], list[str]] = {}


def python_paths() -> list[str]:
    """``code_paths()``, worked out again only when what it depends on has changed (it is
    asked for every sandbox a grader starts)."""
    key = (os.getcwd(), os.environ.get("HOME"), os.environ.get("TMPDIR"), tuple(sys.path))
    found = _known.get(key)
    if found is None:  # graders' threads may ask at once: each keeps what it computed
        found = code_paths()
        _known.clear()
        _known[key] = found
    return list(found)


def code_paths() -> list[str]:
    """Where the running interpreter's code lives: its prefixes, its standard library, the
    folders of its import path and of nngrade's packages. The current folder, the temporary
    folder, the home folder and the running script's folder are left out even when the
    import path names them.

    Computed by the grader, whose current folder, home and script these are: a sandboxed
    child has its own (its scratch folder), while the import path it inherited still names
    the grader's current folder (``python -m nngrade``; multiprocessing makes it absolute)."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(p for p in sysconfig.get_paths().values() if p)
    script = _script_folder()
    paths.update(p for p in sys.path
                 if p and os.path.isabs(p) and os.path.realpath(p) != script)
    for name in PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        paths.update(spec.submodule_search_locations or () if spec else ())
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    shared = _shared_folders()
    return sorted(p for p in paths if os.path.exists(p) and os.path.realpath(p) not in shared)


def data_paths() -> list[str]:
    """Folders the exercises' data may be read from (``NNGRADE_DATA_DIR``, the data cache)."""
    found = []
    if os.environ.get(ENV_DATA_DIR):
        found.append(os.path.abspath(os.environ[ENV_DATA_DIR]))
    root = os.environ.get(ENV_CACHE_DIR)
    if root:
        found.append(os.path.join(os.path.abspath(root), "data"))
    else:
        import platformdirs  # the fork server has it loaded (``warm``)

        found.append(os.path.join(platformdirs.user_cache_dir(APP_NAME), "data"))
    return [p for p in found if os.path.isdir(p)]


def _inside(path: str, folders: Iterable[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def standard(readable: Iterable[str] = (), *, hidden: Iterable[str] = (),
             code: Iterable[str] | None = None, **kw: Any) -> View:
    """The view of a sandboxed Python process: the system, the interpreter's ``code`` (the
    grader's ``python_paths()``; computed here when None), the data, and ``readable``;
    nothing at or below a ``hidden`` path is bound (and a hidden folder inside a bound one
    is covered)."""
    hidden = tuple(os.path.abspath(h) for h in hidden)
    code = python_paths() if code is None else tuple(code)
    paths = [os.path.abspath(p) for p in (*SYSTEM, *ETC, *code, *data_paths(), *readable)]
    kept = tuple(dict.fromkeys(p for p in paths if not _inside(p, hidden)))
    return View(readable=kept, hidden=hidden, **kw)


def _outermost(paths: Iterable[str]) -> list[str]:
    """Paths not inside another of them (a recursive bind of the outer one brings them)."""
    unique = sorted(set(paths), key=lambda p: (p.count(os.sep), p))
    kept: list[str] = []
    for path in unique:
        if not any(path == k or path.startswith(k.rstrip(os.sep) + os.sep) for k in kept):
            kept.append(path)
    return kept


def _place(root: str, path: str, is_dir: bool) -> str:
    target = root + path
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            with open(target, "w"):
                pass
    return target


def _bind(libc: ctypes.CDLL, root: str, path: str, writable: bool = False) -> None:
    target = _place(root, path, os.path.isdir(path))
    _mount(libc, path, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
    _mount(libc, None, target, None, flags)


def _bind_or_link(libc: ctypes.CDLL, root: str, path: str, seen: set[str]) -> None:
    """Bind ``path``; a symbolic link (``/lib -> usr/lib``) is recreated as a link and its
    target bound instead."""
    if path in seen or not os.path.lexists(path):
        return
    seen.add(path)
    # a link anywhere on the way (``/lib`` of ``/lib/x86_64-linux-gnu``) is recreated first
    parts = path.strip(os.sep).split(os.sep)
    for depth in range(1, len(parts) + 1):
        prefix = os.sep + os.sep.join(parts[:depth])
        if os.path.islink(prefix):
            link = root + prefix
            if not os.path.lexists(link):
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink(os.readlink(prefix), link)
            _bind_or_link(libc, root, os.path.realpath(prefix), seen)
            rest = os.path.join(os.path.realpath(prefix), *parts[depth:])
            if rest != path:
                _bind_or_link(libc, root, rest, seen)
            return
    if os.path.exists(root + path) and os.path.ismount(root + path):
        return
    _bind(libc, root, path)


def build(view: View, root: str, workdir: str) -> list[str]:
    """Build ``view`` under the empty folder ``root``, pivot into it and detach the old root.

    Must run in a process that has its own mount namespace and is the first process (init)
    of its own PID namespace: the ``/proc`` mounted here shows that namespace only. Returns
    the protections that held; raises OSError when the view cannot be built (the caller
    then stops: a half-built view is never used)."""
    libc = _libc()
    os.makedirs(root, exist_ok=True)
    _mount(libc, "tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=755")
    # scratch first: a readable folder that lies below one (the interpreter of a course
    # unpacked in /tmp) is bound on top of it, not hidden by it
    owner = "" if view.owner is None else f",uid={view.owner},gid={view.owner}"
    for path, size in sorted(view.scratch, key=lambda s: s[0].count(os.sep)):
        target = _place(root, path, True)
        _mount(libc, "tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV,
               f"size={size},mode=700{owner}")
    seen: set[str] = set()
    for path in _outermost(view.readable):
        _bind_or_link(libc, root, path, seen)
    dev = os.path.join(root, "dev")
    os.makedirs(dev, exist_ok=True)
    for name in view.devices:
        if os.path.exists(f"/dev/{name}"):
            target = _place(root, f"/dev/{name}", False)
            _mount(libc, f"/dev/{name}", target, None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))
    shm = _place(root, "/dev/shm", True)
    _mount(libc, "tmpfs", shm, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    for path in view.bound:
        _bind(libc, root, path, writable=True)
    proc = _place(root, "/proc", True)
    _mount(libc, "proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    needed = (*view.bound, *(path for path, _ in view.scratch))
    for path in view.hidden:
        target = root + path
        if not os.path.isdir(target):
            continue
        # a hidden folder that holds the sandbox's own scratch or working folder (a notebook
        # saved in the temporary folder itself) shows nothing of the machine's folder unless
        # a readable folder brings it: covering it would take the working folder away too
        if any(_inside(p, (path,)) for p in needed) and not _inside(path, view.readable):
            continue
        _mount(libc, "none", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY,
               "size=4k,mode=000")
    _pivot(libc, root)
    os.chdir(workdir)
    return [ALLOW_LISTED, OWN_PROC]


def _pivot(libc: ctypes.CDLL, root: str) -> None:
    number = _PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root is not known on {platform.machine()}")
    os.chdir(root)
    os.mkdir(".old", 0o700)
    _check(libc.syscall(ctypes.c_long(number), b".", b".old"), "pivot_root")
    os.chdir("/")
    _check(libc.umount2(b"/.old", MNT_DETACH), "detach the old root")
    os.rmdir("/.old")
    # the new root itself turns read-only: only scratch, /tmp and bound folders are writable
    _mount(libc, None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
