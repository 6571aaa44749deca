"""Start an IPython kernel under OS limits: ``python -m nngrade.grader.kernel_launch``.

The kernelspec that ``kernel`` writes points here; limits set before ``exec`` survive it, so
the kernel and anything it starts are capped while the grader is not.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys

from nngrade.grader import isolate


def main(argv: list[str]) -> None:
    """Apply the limits given on the command line, then become ipykernel."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--fsize", type=int, required=True)
    parser.add_argument("--workdir", help="the only writable folder; network cut")
    parser.add_argument("--hide", action="append", default=[], help="a folder to hide")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.workdir:
        held = isolate.enter(args.workdir)
        if held and args.hide and isolate.hide(args.hide):
            held.append(isolate.HIDDEN)
        os.environ["NNGRADE_PROTECTIONS"] = ";".join(held)
    for which, value in ((resource.RLIMIT_AS, args.memory), (resource.RLIMIT_CPU, args.cpu),
                         (resource.RLIMIT_FSIZE, args.fsize)):
        resource.setrlimit(which, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    rest = [a for a in args.rest if a != "--"]
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *rest])


if __name__ == "__main__":
    main(sys.argv[1:])
