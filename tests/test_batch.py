"""Grading a class: how ``batch.grade_all`` shares the cores among sandboxes."""

from __future__ import annotations

import re

import nbformat
import pytest

from nngrade.grader.grading import batch
from nngrade.grader.grading.grade import Grader
from nngrade.grader.sandbox import runner
from nngrade.reference import load_exercise

from grading import notebook_with

VANISHING = load_exercise("04")
# a cell that says when it started, then holds its sandbox for a while
CLOCKED = "import time\nstarted = time.time()\ntime.sleep(2)\nraise RuntimeError(f'at {started!r}')"
CLOCKED_ITEMS = ("vanishing.sigmoid", "vanishing.bound")


def _start_times(tmp_path, jobs: int) -> list[float]:
    nb = notebook_with(VANISHING, {item: CLOCKED for item in CLOCKED_ITEMS}, rest="blank")
    path = tmp_path / f"{VANISHING.stem}.ipynb"
    nbformat.write(nb, str(path))
    graded = batch.grade_all([batch.Target(path, "alice")], jobs=jobs, grader=Grader())
    items = {i.id: i for i in graded.submissions[0].items}
    return [float(re.search(r"at ([0-9.]+)", items[i].message).group(1)) for i in CLOCKED_ITEMS]


def test_a_lone_submissions_items_take_the_cores_the_batch_has(tmp_path):
    # two jobs and one submission left: its items run side by side, not one core idle
    first, second = _start_times(tmp_path, jobs=2)
    assert abs(first - second) < 1.5, (first, second)


def test_with_one_job_a_submissions_items_run_one_after_the_other(tmp_path):
    first, second = _start_times(tmp_path, jobs=1)
    assert abs(first - second) >= 2, (first, second)


def test_the_batch_lifts_its_cap_on_sandboxes_when_it_ends(tmp_path):
    _start_times(tmp_path, jobs=2)
    assert runner.slots() == 0


@pytest.mark.parametrize("cap", [1, 2])
def test_no_more_sandboxes_run_at_once_than_the_batch_shares(cap):
    # six runs asked for at once: each says when it started and holds its sandbox 1 s
    from concurrent.futures import ThreadPoolExecutor

    from grading import run_cell

    runner.share(cap)
    try:
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(
                lambda _: run_cell("import time\ny = int(time.time() * 1000)\ntime.sleep(1)"),
                range(6)))
    finally:
        runner.share(0)
    starts = sorted(r.observation["y"] / 1000 for r in results)
    # run k + cap starts only once run k has ended
    assert all(later - earlier >= 0.9 for earlier, later in zip(starts, starts[cap:])), starts
