"""Grading cost against a plain nbclient run of the same notebook.

For the reference-filled notebook of each exercise given and every notebook of the sample
class, prints the grading wall time (``Grader.grade``: the notebook's own run, every item
run in its sandbox, comparison), the wall time of a plain ``nbclient`` execution of the same
notebook, and their ratio. The reference observations are computed first (once per batch,
as in real use) and reported separately. Run: ``python benchmarks/grade_class.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from nngrade.grader.grading import batch
from nngrade.grader.sandbox import runner
from nngrade.grader.grading import solution
from nngrade.grader.grading.grade import Grader
from nngrade.grader.grading.kernel import KernelLimits
from nngrade.grader.sandbox.limits import Limits
from nngrade.reference import load_exercise

REPO = Path(__file__).resolve().parent.parent


def plain_run(path: Path, timeout: int) -> float:
    """Seconds for nbclient to execute the notebook as is, in a stock python3 kernel.

    The kernel gets the grader's thread setting (one OpenMP thread), so the ratio measures
    the grader's overhead and not a difference in torch's threading."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:
        return float("nan")  # the corrupt sample file: nbclient cannot even start
    started = time.monotonic()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": tempfile.gettempdir()}}).execute(
            env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.DEVNULL)
    except Exception:
        pass  # a cell past its timeout ends the plain run too
    return time.monotonic() - started


def _cpu_ticks() -> tuple[int, int]:
    """Busy and total ticks of the whole machine so far (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


def compare_jobs(grader: Grader, class_dir: Path, copies: int, tmp: Path) -> None:
    """Time ``copies`` copies of the class with --jobs 1 and 2, twice each (interleaved, so
    both see the same machine), with the average number of cores kept busy."""
    folder = tmp / "class"
    for i in range(copies):
        for student in sorted(p for p in class_dir.iterdir() if p.is_dir()):
            shutil.copytree(student, folder / f"{student.name}{i}")
    targets = batch.collect([str(folder)])
    cores = batch.default_jobs()
    walls: dict[int, list[float]] = {1: [], 2: []}
    busy: dict[int, list[float]] = {1: [], 2: []}
    for jobs in (1, 2, 1, 2):
        (b0, t0), started = _cpu_ticks(), time.monotonic()
        batch.grade_all(targets, jobs=jobs, grader=grader)
        walls[jobs].append(time.monotonic() - started)
        b1, t1 = _cpu_ticks()
        busy[jobs].append(cores * (b1 - b0) / max(1, t1 - t0))
    w1, w2 = statistics.mean(walls[1]), statistics.mean(walls[2])
    c1, c2 = statistics.mean(busy[1]), statistics.mean(busy[2])
    print(f"\nclass of {len(targets)} notebooks on {cores} cores (mean of two runs each):")
    print(f"  --jobs 1: {w1:.1f} s, {c1:.2f} cores busy")
    print(f"  --jobs 2: {w2:.1f} s, {c2:.2f} cores busy")
    # one notebook at a time already keeps more than one core busy (its item runs go beside
    # its kernel), which is why the speed-up on 2 cores stays under 2x
    print(f"  speed-up {w1 / w2:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercises", nargs="*", default=["01_insurance_regression"])
    parser.add_argument("--class-dir", type=Path, default=REPO / "examples" / "class01")
    parser.add_argument("--timeout", type=int, default=20)
    parser.add_argument("--jobs-compare", action="store_true",
                        help="also time the whole class with --jobs 1 and --jobs 2")
    parser.add_argument("--copies", type=int, default=3,
                        help="copies of the class graded in the --jobs comparison")
    args = parser.parse_args()

    grader = Grader(Limits(timeout=args.timeout), KernelLimits(cell_timeout=args.timeout),
                    use_cache=False)
    tmp = Path(tempfile.mkdtemp(prefix="nngrade-bench-"))
    notebooks = []
    for name in args.exercises:
        exercise = load_exercise(name)
        started = time.monotonic()
        runner.start_server()
        grader.reference(exercise)
        print(f"{exercise.stem}: fork server + reference observations "
              f"{time.monotonic() - started:.1f} s (once per batch; cached on disk after)")
        notebooks.append(solution.write_solution(exercise, tmp / "reference" / f"{exercise.stem}.ipynb"))
    if args.class_dir.is_dir():
        notebooks += [t.path for t in batch.collect([str(args.class_dir)])]

    print(f"\n{'notebook':48} {'grade s':>8} {'plain s':>8} {'ratio':>6}  result")
    ratios = []
    for path in notebooks:
        started = time.monotonic()
        report = grader.grade(path)
        graded = time.monotonic() - started
        plain = plain_run(path, args.timeout)
        ratio = graded / plain if plain == plain and plain > 0 else float("nan")
        if ratio == ratio:
            ratios.append(ratio)
        label = f"{path.parent.name}/{path.name}"
        result = "not gradable" if report.errors else f"{report.score:g}/{report.max_score:g}"
        print(f"{label[-48:]:48} {graded:8.2f} {plain:8.2f} {ratio:6.2f}  {result}")
    if ratios:
        print(f"\nratio grade/plain: median {statistics.median(ratios):.2f}, "
              f"max {max(ratios):.2f} over {len(ratios)} notebooks (target <= 1.5)")
    if args.jobs_compare and args.class_dir.is_dir():
        compare_jobs(grader, args.class_dir, args.copies, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
