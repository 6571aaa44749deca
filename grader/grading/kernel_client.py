"""The Jupyter side of a notebook's run: nbclient's client and jupyter_client's manager,
bounded for the grader.

Kept apart from ``kernel`` so that a process that runs no notebook (a re-run of stored
grades, a check without ``--execute``) never imports nbclient or jupyter_client.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

__all__ = ["BoundedKernelManager", "CappedClient", "CellTimeoutError", "DeadKernelError",
           "manager", "run_sync", "stop"]


class CappedClient(NotebookClient):
    """A NotebookClient that keeps at most ``cap`` bytes of output for the whole run."""

    def __init__(self, nb: Any, cap: int, exempt_cell: int, **kw: Any) -> None:
        super().__init__(nb, **kw)
        self._cap, self._kept, self._exempt = cap, 0, exempt_cell
        self.truncated = False
        self.current: int | None = None
        self.first_cell_at: float | None = None

    async def async_execute_cell(self, cell: Any, cell_index: int, *args: Any, **kw: Any) -> Any:
        self.current = cell_index
        if self.first_cell_at is None:
            self.first_cell_at = time.monotonic()
        return await super().async_execute_cell(cell, cell_index, *args, **kw)

    def output(self, outs: list, msg: dict, display_id: Any, cell_index: int) -> Any:
        size = len(json.dumps(msg.get("content", {}), default=str))
        if cell_index != self._exempt:
            if self._kept + size > self._cap:
                self.truncated = True
                return None
            self._kept += size
        return super().output(outs, msg, display_id, cell_index)


class BoundedKernelManager(AsyncKernelManager):
    """A kernel manager whose client shares its zmq context (and so its socket limits)."""

    def client(self, **kwargs: Any) -> Any:
        return super().client(**{"context": self.context, **kwargs})


def stop(km: AsyncKernelManager) -> None:
    """Kill the kernel of ``km`` if it has one; never raises."""
    # nbclient leaves a kernel it did not create running (a cell past its timeout keeps
    # spinning): kill its process group, which takes the PID namespace down with it
    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # already gone
        pass


def _bounded_context(max_bytes: int) -> Any:
    # every socket to the kernel refuses messages over max_bytes, so a notebook that prints a
    # billion characters cannot make the grader hold them in memory
    import zmq.asyncio

    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, max_bytes)
    return context


def manager(kernel_name: str, cwd: Path, kernels: Path, max_bytes: int) -> BoundedKernelManager:
    """A manager for the kernelspec ``kernel_name`` found in ``kernels``: over IPC, with its
    sockets and connection file (the key included) in ``cwd``, which only this kernel's view
    contains, so it needs no network at all; no message over ``max_bytes`` is read."""
    return BoundedKernelManager(
        kernel_name=kernel_name, transport="ipc", ip=str(cwd / "kernel"),
        connection_file=str(cwd / "connection.json"), context=_bounded_context(max_bytes),
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
