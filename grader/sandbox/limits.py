"""Operating-system limits for a process that runs student code.

Applied in the limited process itself (after the fork, or before exec'ing a kernel), so the
grader is never limited. The memory cap is headroom on top of what the process has already
mapped: a child forked from a warm interpreter that imported torch starts with a large
address space it did not allocate itself.
"""

from __future__ import annotations

import resource
import signal
from dataclasses import asdict, dataclass
from typing import Any

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class Limits:
    """Limits of one sandboxed run; seconds and bytes."""

    timeout: float = 30.0
    memory: int = 2 * GiB
    output: int = 4 * MiB
    result: int = 64 * MiB
    open_files: int = 1024
    scratch: int = 64 * MiB  # the private working directory's size (a memory file system)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, to cross a process boundary."""
        return asdict(self)

    def describe_memory(self) -> str:
        """The memory cap in words ("2 GiB")."""
        if self.memory % GiB == 0:
            return f"{self.memory // GiB} GiB"
        return f"{self.memory / MiB:.0f} MiB"


def mapped_bytes() -> int:
    """Virtual memory this process has mapped now (0 where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def lower(which: int, value: int) -> None:
    """Set the soft and hard limit ``which`` to ``value`` (at most the current hard limit);
    a limit this system does not take is left as it is."""
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))
    except (ValueError, OSError):  # a limit this system does not take (RLIMIT_AS on macOS)
        pass


def apply(limits: Limits, *, cpu_seconds: float | None = None) -> None:
    """Limit this process: address space, CPU time, file size, open files.

    A write past the file-size cap raises an error in the writer instead of killing the
    process, so the student sees "output too large" rather than a vanished cell.
    """
    lower(resource.RLIMIT_AS, mapped_bytes() + limits.memory)
    cpu = cpu_seconds if cpu_seconds is not None else limits.timeout
    lower(resource.RLIMIT_CPU, int(cpu) + 2)
    lower(resource.RLIMIT_FSIZE, limits.output)
    lower(resource.RLIMIT_NOFILE, limits.open_files)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
