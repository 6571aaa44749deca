"""The environment of student code: built from an allow-list, never inherited.

The grader's environment may hold an instructor's tokens, a CI secret, cloud credentials:
none of it reaches a sandbox. A sandbox gets the locale, ``HOME`` and temporary folders in
its own scratch, one thread per numeric library, the off-screen plotting backend, nngrade's
own data variables (made absolute by the grader) and ``PYTHONPATH`` (where an installation
such as Gradescope's puts nngrade itself).
"""

from __future__ import annotations

import os
import sys
from typing import Mapping

from nngrade.config import ENV_OFFLINE

PASSED = ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "TZ", "PYTHONPATH")
THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def for_sandbox(home: str, extra: Mapping[str, str] | None = None, *,
                source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a sandbox whose scratch folder is ``home``: the allowed
    variables of ``source`` (the grader's environment), then ``extra`` (named by the grader),
    then nngrade's fixed settings."""
    source = os.environ if source is None else source
    env = {name: source[name] for name in PASSED if source.get(name)}
    env.update(dict(extra or {}))
    env.update({name: "1" for name in THREADS})
    env.update({
        "HOME": home, "TMPDIR": home, "PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
        ENV_OFFLINE: "1", "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def replace(env: Mapping[str, str]) -> None:
    """Make ``env`` this process's whole environment."""
    os.environ.clear()
    os.environ.update(env)
