"""Shared set-up: where the data are, a private cache, and one Grader per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# A secret in the grader's environment from the start (the fork server and every kernel
# inherit the grader's environment): the isolation tests check it never reaches student code.
os.environ.setdefault("NNGRADE_TEST_SECRET", "instructor-token-" + os.urandom(8).hex())



@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep reference caches of the tests out of the user's cache."""
    cache = tmp_path_factory.mktemp("nngrade-cache")
    previous = os.environ.get("NNGRADE_CACHE_DIR")
    os.environ["NNGRADE_CACHE_DIR"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("NNGRADE_CACHE_DIR", None)
    else:
        os.environ["NNGRADE_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def grader():
    """One Grader for the session, so each exercise's reference runs once; short timeouts keep
    the endless-loop examples cheap."""
    from nngrade.grader.grading.grade import Grader
    from nngrade.grader.grading.kernel import KernelLimits
    from nngrade.grader.sandbox.limits import Limits

    return Grader(Limits(timeout=20), KernelLimits(cell_timeout=20))


@pytest.fixture(scope="session", autouse=True)
def warm_fork_server(private_cache):
    """Start the warm fork server once, before any test times a sandbox run (its preload of
    torch and friends would otherwise count against the first test's timeout)."""
    from grading import run_cell
    from nngrade.grader.grading.grade import Grader
    from nngrade.reference import exercise_names

    Grader().prepare(exercise_names())  # the fork server preloads what every exercise declares
    assert run_cell("y = 1", timeout=120).observation == {"y": 1}
