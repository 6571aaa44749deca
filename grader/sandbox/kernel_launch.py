"""Start an IPython kernel in the sandbox: ``python -m nngrade.grader.sandbox.kernel_launch``.

The kernelspec that ``grading.kernel`` writes points here. The launcher enters the
namespaces, applies the resource limits, then forks (``namespaces.enclose``): the child
becomes the init of a new PID namespace, builds the kernel's view (the same allow-list as an
item run, with the kernel's own folder writable: its connection file and sockets live
there), drops every privilege, loads the system-call filter and execs ipykernel (through ``--boot``,
which first imports the modules the exercise declares, so that a kernel started ahead has
them loaded before the notebook arrives; the names are not bound in the notebook). So the
kernel and anything it starts are capped, see nothing of the machine but its view, cannot
name or signal any other process, and die together; the launcher only waits, and takes the
kernel down with it if it is killed. What held is written to ``--report`` before the kernel
starts, through a file the kernel can no longer reach.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import os
import resource
import signal
import sys

from nngrade.grader.sandbox import limits, namespaces, syscalls, view

PR_SET_PDEATHSIG = 1


def _become_kernel(rest: list[str], held: list[str], report: int | None, filtered: bool,
                   preload: list[str]) -> None:
    if sys.platform.startswith("linux"):  # the launcher killed: the namespace goes too
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 0 and namespaces.OWN_PIDS not in held:  # pid 1 of its namespace
        held.append(namespaces.OWN_PIDS)
    if filtered and syscalls.restrict(allow_exec=True):
        held.append(syscalls.FILTERED)
    if report is not None:
        os.write(report, ";".join(held).encode())
        os.close(report)
    # a fresh image: nothing of the launcher (its memory, its descriptors) reaches the kernel
    os.execv(sys.executable, [sys.executable, "-m", "nngrade.grader.sandbox.kernel_launch",
                              "--boot", ",".join(preload), "--", *rest])


def _boot(preload: list[str], rest: list[str]) -> None:
    """Import ``preload`` inside the sandbox, then run ipykernel with ``rest``."""
    # as ipykernel_launcher does: the kernel's folder (``-m`` put it first) is not searched
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # the notebook's own import says what is wrong, in its cell
            pass
    sys.argv = [sys.argv[0], *rest]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def _wait_for(child: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are the kernel's to handle
    # the grader that started this launcher may be killed (a Dask worker that dies, a grader
    # ended by SIGKILL): the kernel must not outlive it, so the wait wakes to check
    parent = os.getppid()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    while True:
        try:
            done, status = os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if done:
            break
        if os.getppid() != parent:
            os.kill(child, signal.SIGKILL)
        signal.sigtimedwait({signal.SIGCHLD}, 0.5)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _connection_file(rest: list[str]) -> str | None:
    for flag, value in zip(rest, rest[1:]):
        if flag == "-f":
            return value
    return None


def main(argv: list[str]) -> None:
    """Apply the limits given on the command line, build the sandbox, then become ipykernel
    (``--boot MODULES -- ARGS``: the last step, inside the sandbox)."""
    if argv[:1] == ["--boot"] and argv[2:3] == ["--"]:
        _boot([m for m in argv[1].split(",") if m], argv[3:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--fsize", type=int, required=True)
    parser.add_argument("--workdir", help="the only writable folder; network cut")
    parser.add_argument("--hide", action="append", default=[], help="a folder to hide")
    parser.add_argument("--report", help="a file to write the protections that held to")
    parser.add_argument("--preload", action="append", default=[],
                        help="a module the kernel imports before the notebook's first cell")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    rest = [a for a in args.rest if a != "--"]
    # opened before the view is built, closed before the kernel starts
    report = os.open(args.report, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if args.report else None

    def apply_limits() -> None:
        for which, value in ((resource.RLIMIT_AS, args.memory), (resource.RLIMIT_CPU, args.cpu),
                             (resource.RLIMIT_FSIZE, args.fsize)):
            limits.lower(which, value)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    held: list[str] = []
    if args.workdir:
        workdir = os.path.abspath(args.workdir)
        connection = _connection_file(rest)

        def view_for(uid: int | None) -> view.View:
            if uid is not None:  # the kernel's folder and connection file become its user's
                for folder, _, files in os.walk(workdir):
                    for path in (folder, *(os.path.join(folder, f) for f in files)):
                        os.lchown(path, uid, uid)
                if connection:
                    os.chown(connection, uid, uid)
            readable = (connection,) if connection and not connection.startswith(workdir) else ()
            return view.standard(readable, scratch=(("/tmp", limits.MiB * 64),),
                                 bound=(workdir,), hidden=tuple(args.hide), owner=uid)

        def supervise(child: int) -> None:
            if report is not None:
                os.close(report)
            _wait_for(child)

        held, _ = namespaces.enclose(view_for, os.path.join(os.path.dirname(workdir), "view"),
                                     workdir, supervise, before_fork=apply_limits)
    else:
        apply_limits()
    _become_kernel(rest, held, report, filtered=bool(args.workdir), preload=args.preload)


if __name__ == "__main__":
    main(sys.argv[1:])
