"""Start an IPython kernel under OS limits: ``python -m nngrade.grader.sandbox.kernel_launch``.

The kernelspec that ``kernel`` writes points here. The launcher builds the sandbox (the
namespaces of ``namespaces``, resource limits), then forks: the child becomes the init of a new
PID namespace, loads the system-call filter and execs ipykernel, so the kernel and anything it
starts are capped, cannot see or signal the grader's processes, and die together; the
launcher only waits, and takes the kernel down with it if it is killed. What held is written
to ``--report`` before the kernel starts, through a file the kernel can no longer reach.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import signal
import sys

from nngrade.grader.sandbox import namespaces
from nngrade.grader.sandbox import limits
from nngrade.grader.sandbox import syscalls

PR_SET_PDEATHSIG = 1


def _become_kernel(rest: list[str], held: list[str], report: int | None, filtered: bool) -> None:
    if sys.platform.startswith("linux"):  # the launcher killed: the namespace goes too
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 0 and namespaces.OWN_PIDS not in held:  # pid 1 of its namespace
        held.append(namespaces.OWN_PIDS)
    if filtered and syscalls.restrict(allow_exec=True):
        held.append(syscalls.FILTERED)
    if report is not None:
        os.write(report, ";".join(held).encode())
        os.close(report)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *rest])


def _wait_for(child: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are the kernel's to handle
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def main(argv: list[str]) -> None:
    """Apply the limits given on the command line, then become ipykernel."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--fsize", type=int, required=True)
    parser.add_argument("--workdir", help="the only writable folder; network cut")
    parser.add_argument("--hide", action="append", default=[], help="a folder to hide")
    parser.add_argument("--report", help="a file to write the protections that held to")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    # opened before the file system turns read-only, closed before the kernel starts
    report = os.open(args.report, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if args.report else None
    held: list[str] = []
    if args.workdir:
        held = namespaces.enter(args.workdir)
        if held and args.hide and namespaces.hide(args.hide):
            held.append(namespaces.HIDDEN)
    for which, value in ((resource.RLIMIT_AS, args.memory), (resource.RLIMIT_CPU, args.cpu),
                         (resource.RLIMIT_FSIZE, args.fsize)):
        limits.lower(which, value)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    rest = [a for a in args.rest if a != "--"]
    if args.workdir and namespaces.own_pid_namespace():
        child = os.fork()
        if child:
            if report is not None:
                os.close(report)
            _wait_for(child)
    _become_kernel(rest, held, report, filtered=bool(args.workdir))


if __name__ == "__main__":
    main(sys.argv[1:])
