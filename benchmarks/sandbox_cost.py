"""Seconds per sandboxed item run: the cost of the sandbox itself, on a trivial cell.

Runs exercise 04's ``vanishing.max_sigmoid_prime`` case (the cell assigns one number) N
times through the same path as grading (``requests.request`` -> ``runner.run``), after one
warm-up run that starts the fork server, and prints the median, the quartiles and the
protections in force. Run it before and after a change to the sandbox, in one session, to
compare: ``python benchmarks/sandbox_cost.py --runs 30``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from nngrade.grader.grading import requests
from nngrade.grader.grading.grade import Grader
from nngrade.grader.sandbox import runner
from nngrade.grader.sandbox.limits import Limits
from nngrade.reference import load_exercise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    exercise = load_exercise("04")
    Grader().prepare([exercise.stem])  # the fork server preloads what the exercise declares
    item = exercise.item("vanishing.max_sigmoid_prime")
    request = requests.request(exercise, item, item.cases[0], "max_sigmoid_prime = 0.25", (),
                               Limits(timeout=60))
    first = runner.run(request)
    assert first.status == "ok", first
    times = []
    for _ in range(args.runs):
        started = time.monotonic()
        result = runner.run(request)
        times.append(time.monotonic() - started)
        assert result.status == "ok", result
    q1, median, q3 = statistics.quantiles(times, n=4)
    print(f"sandboxed run of a trivial cell: median {median * 1000:.0f} ms "
          f"(quartiles {q1 * 1000:.0f}-{q3 * 1000:.0f} ms) over {args.runs} runs")
    print("protections: " + "; ".join(result.protections or ()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
