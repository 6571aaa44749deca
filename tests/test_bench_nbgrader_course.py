"""The nbgrader course of benchmarks/nbgrader_side_by_side.py: its hidden tests really check.

The benchmark's claim that nbgrader and nngrade agree is only worth something if the hidden
tests it writes fail wrong answers; here one item's tests run in a plain ``exec`` (no kernel,
no nbgrader), against the reference's observations as nngrade makes them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from nngrade.grader.grading import requests, solution
from nngrade.grader.sandbox import runner
from nngrade.grader.sandbox.limits import Limits
from nngrade.reference import load_exercise

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "nbgrader_side_by_side.py"
ITEM = "vanishing.bound"


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nbgrader_side_by_side", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _benchmark()


@pytest.fixture(scope="module")
def hidden_tests(bench) -> str:
    """The hidden-test cell of vanishing.bound, with the reference's observations."""
    exercise = load_exercise("04")
    item = exercise.item(ITEM)
    observations = {}
    for index, case in enumerate(item.cases):
        run = runner.run(requests.request(exercise, item, case, exercise.solution[ITEM], (),
                                          Limits(timeout=item.timeout)))
        assert run.status == "ok", run.message
        observations[(ITEM, index)] = run.observation
    return bench.hidden_tests(exercise, item, observations,
                              solution.blank_sources(exercise.stem)[ITEM])


def _run(tests: str, answer: str) -> None:
    """Run the test cell as the kernel would right after a solution cell holding ``answer``."""
    history = ["import numpy as np\n", answer, tests]
    shell = SimpleNamespace(history_manager=SimpleNamespace(input_hist_raw=history))
    exec(compile(tests, "<hidden tests>", "exec"), {"get_ipython": lambda: shell})


def test_hidden_tests_pass_the_reference_and_a_different_correct_answer(bench, hidden_tests):
    _run(hidden_tests, load_exercise("04").solution[ITEM])
    _run(hidden_tests, bench.HANDWRITTEN[ITEM]["correct"][0])


def test_hidden_tests_fail_a_flipped_sign_a_wrong_answer_and_the_template(bench, hidden_tests):
    reference = load_exercise("04").solution[ITEM]
    flipped = bench.sign_flipped(reference)
    assert flipped is not None and flipped != reference
    for wrong in (flipped, bench.HANDWRITTEN[ITEM]["wrong"][0]):
        with pytest.raises(AssertionError, match="gradient_ratio_bound"):
            _run(hidden_tests, wrong)
    with pytest.raises(AssertionError, match="not answered yet"):
        _run(hidden_tests, solution.blank_sources("04_vanishing_gradients")[ITEM])
