"""Where a class's seconds go: the fixed cost, the cost per notebook, the stages, the cores.

For each exercise given, grades a class of ``--students`` distinct copies of the reference
notebook through the real command line (``nngrade grade``, a fresh process each time, the
reference observations already cached as in any run after the first) and prints, all from one
run on the same machine:

- the fixed cost before the first notebook: ``T(1) - (T(N) - T(1)) / (N - 1)``, from a
  class of 1 and a class of N, ``--jobs 1``, and the part of it no grader avoids: importing
  the modules the exercise declares, timed alone in a fresh interpreter;
- seconds per notebook, ``--jobs 1`` and ``--jobs 2``, with and without ``--execute``;
- the average number of cores kept busy with ``--jobs 2`` (from /proc/stat), over the whole
  run and over the notebooks after the first (a class of N against a class of 1: the fixed
  cost, one process importing what the exercise declares, is serial by nature; a difference
  of two runs, so a class of 10 can read a few points over 100 %);
- the mean seconds of each stage of a submission, from the reports' ``timings``;
- an unchanged re-run with ``--out`` against the first run into the same folder;
- the fixed cost and the cores kept busy again with ``--keep-warm`` (the fork server kept
  from the command before: what a second command within the idle time pays).

Run: ``python benchmarks/warm_path.py [--exercises 02 03 04 05] [--students 10]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from nngrade.grader.grading import solution
from nngrade.grader.sandbox import resident
from nngrade.reference import load_exercise


def _cpu_ticks() -> tuple[int, int]:
    """Busy and total ticks of the whole machine so far (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


def build_class(stem: str, students: int, folder: Path) -> Path:
    """``students`` copies of the reference notebook, each made distinct by a markdown cell
    (identical files would share one stored grade)."""
    nb = solution.filled_notebook(load_exercise(stem))
    for i in range(students):
        copy = nbformat.from_dict(json.loads(nbformat.writes(nb)))
        copy.cells.append(nbformat.v4.new_markdown_cell(f"student {i}"))
        (folder / f"s{i:03d}").mkdir(parents=True, exist_ok=True)
        nbformat.write(copy, str(folder / f"s{i:03d}" / f"{stem}.ipynb"))
    return folder


def grade(folder: Path, *options: str) -> tuple[float, float, list[dict]]:
    """Wall seconds, busy core-seconds of the whole machine, and the submissions' reports of
    one ``nngrade grade`` run."""
    command = [sys.executable, "-m", "nngrade", "grade", str(folder), "--format", "json",
               "--quiet", *options]
    # as on a user's machine, nngrade's bytecode is cached: without this, a shell that sets
    # PYTHONDONTWRITEBYTECODE makes every child compile nngrade from source (about 50 ms,
    # a tenth of an unchanged re-run)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    (b0, t0), started = _cpu_ticks(), time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    wall = time.monotonic() - started
    b1, t1 = _cpu_ticks()
    if done.returncode != 0:
        raise SystemExit(f"nngrade grade failed ({done.returncode}): {done.stderr[-2000:]}")
    busy = wall * (os.cpu_count() or 1) * (b1 - b0) / max(1, t1 - t0)
    return wall, busy, json.loads(done.stdout)["submissions"]


def _stop_keepers() -> None:
    """End the kept servers of this benchmark's runtime folder (``--keep-warm``)."""
    for stamp in Path(os.environ[resident.ENV_RUNTIME_DIR]).glob("*/*.json"):
        try:
            os.kill(json.loads(stamp.read_text())[0], signal.SIGTERM)
        except (OSError, ValueError):
            pass


def stages(subs: list[dict]) -> dict[str, float]:
    """Mean seconds per stage over the submissions' reports."""
    names = sorted({k for s in subs for k in s.get("timings", {})})
    return {n: statistics.mean(s.get("timings", {}).get(n, 0.0) for s in subs) for n in names}


def import_floor(modules: tuple[str, ...]) -> float:
    """Seconds a fresh interpreter takes to import ``modules`` (median of 3, after one run that
    warms the file cache): what the fork server pays before its first fork, and what any
    grader that runs the exercise's cells pays at least once."""
    code = ("import importlib, time\nstarted = time.monotonic()\n"
            f"for name in {list(modules)!r}:\n    importlib.import_module(name)\n"
            "print(time.monotonic() - started)")
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True, env=env).stdout) for _ in range(4)]
    return statistics.median(runs[1:])


def bench(stem: str, students: int, tmp: Path) -> None:
    one = build_class(stem, 1, tmp / stem / "one")
    many = build_class(stem, students, tmp / stem / "many")
    grade(one, "--jobs", "1")  # fills the reference cache: what every later run finds
    # the fixed cost is read off this small figure: the median of 3 runs, not one
    t1 = statistics.median(grade(one, "--jobs", "1")[0] for _ in range(3))
    tn, _, subs = grade(many, "--jobs", "1")
    per = (tn - t1) / (students - 1)
    fixed = t1 - per
    t2, busy2, _ = grade(many, "--jobs", "2")
    t2_one, busy2_one, _ = grade(one, "--jobs", "2")
    cores = os.cpu_count() or 1
    # a kept server, started by a first command and used by the next ones
    warm = ("--keep-warm", "120")
    grade(one, "--jobs", "1", *warm)
    t1_kept = statistics.median(grade(one, "--jobs", "1", *warm)[0] for _ in range(3))
    t2_kept, busy2_kept, _ = grade(many, "--jobs", "2", *warm)
    _stop_keepers()
    te, _, executed = grade(many, "--jobs", "1", "--execute")
    out = tmp / stem / "out"
    first, _, _ = grade(many, "--jobs", "2", "--out", str(out))
    again, _, _ = grade(many, "--jobs", "2", "--out", str(out))
    print(f"\n{stem}, a class of {students}:")
    print(f"  fixed cost before the first notebook   {fixed:6.2f} s   (target <= 2 s warm)")
    print(f"    of it, importing what it declares    {import_floor(load_exercise(stem).preload):6.2f} s"
          "   (in a fresh process: the fork server's floor)")
    print(f"  per notebook, --jobs 1                 {per:6.2f} s")
    print(f"  per notebook, --jobs 2                 {t2 / students:6.2f} s   "
          f"({busy2 / t2 / cores:.0%} of {cores} cores busy over the run, "
          f"{(busy2 - busy2_one) / max(1e-9, t2 - t2_one) / cores:.0%} after the first "
          "notebook; target >= 85 %)")
    print(f"  with --keep-warm (a server kept from the command before):")
    print(f"    fixed cost before the first notebook {t1_kept - per:6.2f} s")
    print(f"    per notebook, --jobs 2               {t2_kept / students:6.2f} s   "
          f"({busy2_kept / t2_kept / cores:.0%} of {cores} cores busy over the run)")
    print(f"  per notebook, --jobs 1 --execute       {(te - fixed) / students:6.2f} s")
    print(f"  unchanged re-run / first run (--out)   {again / first:6.1%}   "
          f"({again:.2f} s / {first:.2f} s; target <= 5 %)")
    executed_by_default = any(s["executed"] for s in subs)
    print(f"  notebook run as a whole by default     {'yes' if executed_by_default else 'no'}")
    print("  mean seconds per stage (the notebook's run goes on beside the item runs):")
    for label, found in (("default", stages(subs)), ("--execute", stages(executed))):
        print(f"    {label:10} " + ", ".join(f"{k} {v:.2f}" for k, v in found.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercises", nargs="*", default=["02", "03", "04", "05"])
    parser.add_argument("--students", type=int, default=10)
    args = parser.parse_args()
    if args.students < 2:
        parser.error("--students must be at least 2 (the fixed cost is read off two sizes)")
    with tempfile.TemporaryDirectory(prefix="nngrade-warm-") as tmp:
        # the kept servers' addresses: this run's own, so no server of the user's is used
        os.environ[resident.ENV_RUNTIME_DIR] = str(Path(tmp) / "runtime")
        os.environ.pop(resident.ENV_KEEP_WARM, None)
        (Path(tmp) / "runtime").mkdir()
        try:
            for name in args.exercises:
                bench(load_exercise(name).stem, args.students, Path(tmp))
        finally:
            _stop_keepers()
    return 0


if __name__ == "__main__":
    sys.exit(main())
