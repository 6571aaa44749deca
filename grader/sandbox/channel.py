"""How a cell's result reaches the grader without the cell holding the grader's channel.

The sandbox is two processes. The supervisor holds the pipe the grader reads; it never runs
student code: it only waits for its child, the init of the sandbox's PID namespace, which
runs the cell and the probe. That child reaches the supervisor through two pipes of its own:
when the probe is done it asks for a key (``KEY?``), which the supervisor makes after the
fork and hands out once, and sends its result signed with it. The supervisor forwards a
result only if it carries a valid signature and nothing else came through the pipe, so a
message a cell writes into the pipe itself (a forged, well-formed result) is refused, as is a
cell that asks for the key too: the probe's later request then breaks the exchange. When the
child dies without a result, the supervisor, which saw how it died, says so.

What this does not stop: code that re-implements this exchange from inside the cell and then
ends the process before the probe runs (SECURITY.md, "What is left").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import struct
from typing import Any, Callable

from nngrade.grader.sandbox import wire

REQUEST = b"KEY?\n"
_HEADER = struct.Struct(">32sQ")


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class Cell:
    """The cell process's side: one signed result, after asking for the key."""

    def __init__(self, to_supervisor: int, from_supervisor: int) -> None:
        self._out, self._in = to_supervisor, from_supervisor

    def send(self, payload: bytes) -> None:
        os.write(self._out, REQUEST)
        key = _read_exactly(self._in, 32)
        mac = hmac.new(key, payload, hashlib.sha256).digest()
        data = _HEADER.pack(mac, len(payload)) + payload
        view = memoryview(data)
        while view:
            view = view[os.write(self._out, view):]
        os.close(self._out)


def _error(kind: str, message: str) -> bytes:
    return wire.dumps({"status": "error", "kind": kind, "message": message})


def _died(status: int, limits: Any) -> bytes:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU:
            return _error("timeout", f"the cell used more than {limits.timeout:g} s of CPU time")
        if number == signal.SIGKILL:
            return _error("memory", "the cell was killed, most likely for using more than "
                                    f"{limits.describe_memory()} of memory")
        return _error("crash", f"the process running the cell died of signal {number}; the "
                               "cell may crash the interpreter")
    return _error("crash", f"the process running the cell ended (exit code "
                           f"{os.waitstatus_to_exitcode(status)}) before its result was sent; "
                           "the cell may call os._exit")


def supervise(child: int, from_cell: int, to_cell: int, key: bytes,
              send: Callable[[bytes], Any], limits: Any,
              memory_overrun: Callable[[], bool] = lambda: False) -> None:
    """The supervisor's side: hand out the key once, check the signed result, forward it
    (or a sentence saying why there is none) to the grader. ``memory_overrun`` says whether
    the cell's processes together went over the memory cap (one of them was killed for it):
    whatever the cell then sent, the item is lost for memory."""
    payload: bytes | None = None
    forged = False
    request = _read_exactly(from_cell, len(REQUEST))
    if request == REQUEST:
        try:
            os.write(to_cell, key)
        except OSError:
            pass
        header = _read_exactly(from_cell, _HEADER.size)
        if len(header) == _HEADER.size:
            mac, size = _HEADER.unpack(header)
            if size <= limits.result:
                body = _read_exactly(from_cell, size)
                trailing = os.read(from_cell, 1)
                good = hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest())
                if len(body) == size and good and not trailing:
                    payload = body
                else:
                    forged = True
            else:
                payload = _error("too_big", "what the cell produced is too large to check")
        else:
            forged = bool(header)
    elif request:
        forged = True
    os.close(to_cell)
    # whatever else comes is not read; the child is waited for so its fate can be told
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            status = 0
            break
    if memory_overrun():
        payload = _error("memory", "the cell's processes used more than "
                                   f"{limits.describe_memory()} of memory together")
    if payload is None:
        payload = (_error("forged", "a result that did not come from the grader's probe was "
                          "refused: the cell wrote into the sandbox's result channel")
                   if forged else _died(status, limits))
    send(payload)
