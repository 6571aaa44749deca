"""A control group per sandbox, where the machine lets the grader make one: it caps the
memory and the number of tasks of everything the sandbox runs together, so student code may
start a few processes (a ``DataLoader`` with workers, a ``multiprocessing.Pool(2)``) that die
with it, instead of none at all.

Resource limits bind one process at a time: with processes allowed, each could take the
whole memory cap, so processes are only let in where a group holds them all. Both cgroup
v1 (a ``memory`` and a ``pids`` hierarchy) and v2 (one hierarchy with both controllers) are
looked for, below the grader's own group; where neither is writable, the system-call filter
keeps refusing new processes, and the report says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROCESSES = "a few processes, capped together in memory and number (a control group)"
PREFIX = "nngrade-"


def _own_groups() -> dict[str, str]:
    """Controller (or "" for v2) -> this process's group path, from /proc/self/cgroup."""
    found = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                found[name] = path
    except (OSError, ValueError):
        pass
    return found


def _writable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK)


@dataclass(frozen=True)
class Group:
    """The folders of one sandbox's group (one per hierarchy)."""

    folders: tuple[Path, ...]

    def add(self, pid: int) -> None:
        """Move the process ``pid`` (of the caller's PID namespace) into the group.

        A move waits for the kernel's next RCU grace period (6-28 ms here, on cgroup v1 and
        v2 alike, with no CPU used): the caller makes it while the moved process does work
        of its own, not before."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(pid))

    def oom_kills(self) -> int:
        """How many of the group's processes the kernel killed for its memory cap."""
        for folder in self.folders:
            for name in ("memory.oom_control", "memory.events"):
                try:
                    for line in (folder / name).read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            return int(value)
                except (OSError, ValueError):
                    continue
        return 0

    def remove(self) -> None:
        """Delete the group once its processes are gone."""
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                pass


def _parents() -> list[tuple[Path, str]] | None:
    """Where the groups are made, with the files that cap memory and tasks there."""
    own = _own_groups()
    base = Path("/sys/fs/cgroup")
    memory, pids = base / "memory", base / "pids"
    if "memory" in own and "pids" in own:  # v1
        parents = [(memory / own["memory"].lstrip("/"), "memory"),
                   (pids / own["pids"].lstrip("/"), "pids")]
        if all(_writable(p) for p, _ in parents):
            return parents
    if "" in own:  # v2: both controllers must be enabled for the children of our group
        for root in (base, base / "unified"):
            parent = root / own[""].lstrip("/")
            try:
                enabled = (parent / "cgroup.subtree_control").read_text().split()
            except OSError:
                continue
            if {"memory", "pids"} <= set(enabled) and _writable(parent):
                return [(parent, "v2")]
    return None


def create(name: str, memory: int, tasks: int) -> Group | None:
    """A new group capping ``memory`` bytes and ``tasks`` tasks (threads count), or None."""
    parents = _parents()
    if parents is None:
        return None
    made: list[Path] = []
    try:
        for parent, kind in parents:
            folder = parent / f"{PREFIX}{name}"
            folder.mkdir()
            made.append(folder)
            if kind == "memory":
                (folder / "memory.limit_in_bytes").write_text(str(memory))
                swap = folder / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    swap.write_text(str(memory))
            elif kind == "pids":
                (folder / "pids.max").write_text(str(tasks))
            else:
                (folder / "memory.max").write_text(str(memory))
                (folder / "memory.swap.max").write_text("0")
                (folder / "pids.max").write_text(str(tasks))
    except OSError:
        Group(tuple(made)).remove()
        return None
    return Group(tuple(made))


def remove(name: str) -> None:
    """Remove the group called ``name`` if it is left (its supervisor was killed)."""
    parents = _parents() or []
    Group(tuple(parent / f"{PREFIX}{name}" for parent, _ in parents)).remove()
