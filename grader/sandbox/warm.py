"""The last module the warm fork server imports: readies what it preloaded for a fork.

The fork server imports the modules the exercises declare (``Exercise.preload``), then this
one. Forking from an interpreter that has already imported torch takes milliseconds instead
of the 1.5-2.5 s of imports. What a child would still import lazily is the declaration's to
name, not this module's to guess: an exercise whose cells train declares ``torch._dynamo``,
which a process's first torch optimizer imports (0.95 s), and one that does not is not made
to wait for it. Nothing from the reference, a hidden case or a student is loaded here: a
forked child inherits all of this process's memory. No tensor is made here, so torch's
OpenMP pool is never started (a child forked after it started hangs on its first matmul).
"""

import atexit
import os
import sys

from nngrade.grader.sandbox import syscalls  # noqa: E402

# the filters children load, built here once: finding libseccomp runs ldconfig twice (25 ms)
# and building a filter takes 1.5 ms of every child
for processes in (False, True):
    syscalls.compiled(allow_processes=processes)

import platformdirs  # noqa: E402,F401  every child's view asks it for the data folder (4 ms)

import nngrade.grader.sandbox.child  # noqa: E402,F401
import nngrade.grader.sandbox.wire  # noqa: E402,F401

if "numpy" in sys.modules:  # every child seeds numpy.random: a lazy import of 40 ms each
    import numpy.random  # noqa: E402,F401

if "matplotlib" in sys.modules:  # whatever backend was picked, a sandbox draws off-screen
    sys.modules["matplotlib"].use("Agg")

if "torch" in sys.modules:
    sys.modules["torch"].set_num_threads(1)


def _leave_at_once() -> None:
    """The fork server ends when its grader does; tearing down the libraries it preloaded
    (2,000 modules with torch) took 0.9-1.5 s of CPU after the grade was known, and a caller
    that reads the grader's output (CI, ``| tee``, a subprocess) waited for it, since the
    server holds the same stdout and stderr. Nothing of the server needs tearing down: it
    owns no file, no result and no student's data."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(0)


# registered last, so run first when the server exits: every other exit handler is skipped.
# A forked child never runs exit handlers (it leaves through os._exit, as multiprocessing's)
atexit.register(_leave_at_once)

# last: what a probe computes with, as it is before any cell ran (see ``pristine``)
from nngrade.grader.sandbox import pristine  # noqa: E402

pristine.take()
