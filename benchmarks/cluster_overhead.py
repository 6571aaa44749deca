"""What grading through Dask costs: the sample class x4 with ``--jobs 2`` and ``--cluster local:2``.

In one run, on this machine:
1. the class (``examples/class01``, copied ``--copies`` times, each copy's students renamed)
   graded by the command line with ``--jobs 2``, then with ``--cluster local:2``; the two
   JSON reports are compared (the times left out: they must be identical), and the wall
   times give Dask's overhead per submission;
2. Dask's own costs: starting a LocalCluster of 2 workers and checking their versions, and
   the round trip of one task carrying a notebook's bytes;
3. the reference observations a worker needs: computed (what a worker process with an empty
   cache pays; the disk cache makes it once per machine) or read from its cache, against
   shipped from the client (serialised, sent, decoded on a worker);
4. the client's own serial work per submission (the store key: the notebook's hash and the
   reference fingerprint), which bounds how far more machines can help.

Run: ``python benchmarks/cluster_overhead.py`` (needs ``nngrade[cluster]``; minutes: exercise
01's slowest student loops until its item's time limit).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _copy_class(class_dir: Path, copies: int, folder: Path) -> int:
    for i in range(copies):
        for student in sorted(p for p in class_dir.iterdir() if p.is_dir()):
            shutil.copytree(student, folder / f"{student.name}{i}")
    return len(list(folder.rglob("*.ipynb")))


def _grade(folder: Path, *options: str) -> tuple[float, dict]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "nngrade", "grade", str(folder), "--format",
                           "json", "--quiet", *options], capture_output=True, text=True,
                          check=True)
    return time.monotonic() - started, json.loads(done.stdout)


def _without_times(report: dict) -> dict[str, str]:
    """Each submission's report without what differs from run to run: the time spent."""
    subs = {}
    for sub in report["submissions"]:
        kept = {k: v for k, v in sub.items() if k not in ("seconds", "timings")}
        subs[sub["path"]] = json.dumps(kept, sort_keys=True)
    return subs


def compare_runs(class_dir: Path, copies: int, tmp: Path) -> None:
    """Grade the class with --jobs 2 and on a local cluster of 2; compare time and reports."""
    folder = tmp / "class"
    count = _copy_class(class_dir, copies, folder)
    local_wall, local = _grade(folder, "--jobs", "2")
    cluster_wall, remote = _grade(folder, "--cluster", "local:2")
    mine, theirs = _without_times(local), _without_times(remote)
    differ = sorted(p for p in mine.keys() | theirs.keys() if mine.get(p) != theirs.get(p))
    busy = sum(s["seconds"] for s in remote["submissions"])
    print(f"class of {count} notebooks ({class_dir.name} x{copies}):")
    print(f"  --jobs 2:          {local_wall:7.1f} s")
    print(f"  --cluster local:2: {cluster_wall:7.1f} s   (workers spent {busy:.1f} s grading)")
    print(f"  Dask's overhead:   {(cluster_wall - local_wall) / count:+7.2f} s per submission "
          f"(whole run, start-up included)")
    print(f"  reports identical (times left out): {not differ}"
          + (f"; they differ for {', '.join(differ)}" if differ else ""))


def dask_costs() -> None:
    """A LocalCluster's start-up and version check, and one task's round trip."""
    import nbformat

    from nngrade.grader.grading import cluster, solution
    from nngrade.reference import load_exercise

    data = nbformat.writes(solution.filled_notebook(load_exercise("01_insurance_regression")))
    data = data.encode()
    started = time.monotonic()
    with cluster.connect("local:2") as client:
        up = time.monotonic() - started
        facts = client.run(cluster.worker_facts)
        cluster.check_workers(cluster.versions(), facts)
        checked = time.monotonic() - started - up
        trips = []
        for _ in range(20):
            t = time.monotonic()
            client.submit(len, data, pure=False).result()
            trips.append(time.monotonic() - t)
    print(f"\nDask itself (local:2): cluster start {up:.1f} s, version check {checked:.1f} s "
          "(once per run); one task carrying a notebook "
          f"({len(data) / 1024:.0f} KiB): median {1000 * statistics.median(trips):.1f} ms")


def reference_costs(stem: str) -> None:
    """Computing the reference's observations on a worker against shipping them."""
    from nngrade.grader.grading import cluster, expected
    from nngrade.grader.grading.kernel import KernelLimits
    from nngrade.grader.sandbox import runner, wire
    from nngrade.grader.sandbox.limits import Limits
    from nngrade.reference import load_exercise

    exercise = load_exercise(stem)
    runner.preload(exercise.preload)
    runner.start_server()
    limits, kernel_limits = Limits(timeout=120.0), KernelLimits()
    started = time.monotonic()
    run = expected.compute(exercise, limits, kernel_limits)
    computed = time.monotonic() - started
    expected.load_or_compute(exercise, limits, kernel_limits)  # fills the cache
    started = time.monotonic()
    expected.load_or_compute(exercise, limits, kernel_limits)
    cached = time.monotonic() - started
    plain = wire.dumps({"cases": {f"{k[0]}#{k[1]}": v for k, v in run.cases.items()},
                        "state": run.state})
    with cluster.connect("local:1") as client:
        trips = []
        for _ in range(5):
            t = time.monotonic()
            client.submit(lambda b: len(wire.loads(b)["cases"]), plain, pure=False).result()
            trips.append(time.monotonic() - t)
    shipped = statistics.median(trips) + _encode_seconds(run, wire)
    print(f"\nreference observations of {stem}:")
    print(f"  computed on a worker (empty cache): {computed:7.2f} s once per machine")
    print(f"  read from the worker's disk cache:  {cached:7.3f} s once per worker process")
    print(f"  shipped from the client:            {shipped:7.3f} s per worker "
          f"({len(plain) / 1024:.0f} KiB encoded, sent, decoded)")


def _encode_seconds(run, wire) -> float:
    started = time.monotonic()
    wire.dumps({"cases": {f"{k[0]}#{k[1]}": v for k, v in run.cases.items()},
                "state": run.state})
    return time.monotonic() - started


def client_costs(class_dir: Path) -> float:
    """Seconds of the client's serial work per submission (its store key)."""
    from nngrade.grader.grading import batch
    from nngrade.grader.grading.grade import Grader
    from nngrade.grader.grading.store import ResultStore

    targets = batch.collect([str(class_dir)])
    store, grader = ResultStore(tempfile.mkdtemp()), Grader()
    started = time.monotonic()
    for target in targets:
        store.key(target.path, grader)
    per = (time.monotonic() - started) / len(targets)
    print(f"\nthe client's serial work per submission (store key, reading the file): "
          f"{1000 * per:.0f} ms")
    return per


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class-dir", type=Path, default=REPO / "examples" / "class01")
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--reference", default="01_insurance_regression",
                        help="the exercise whose reference costs are measured")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nngrade-cluster-bench-"))
    os.environ.setdefault("NNGRADE_CACHE_DIR", str(tmp / "cache"))
    try:
        compare_runs(args.class_dir, args.copies, tmp)
        dask_costs()
        reference_costs(args.reference)
        per = client_costs(args.class_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\nexpected scaling: throughput grows with the number of worker cores, since "
          "submissions are independent and a task costs milliseconds against seconds of "
          "grading; it stops growing when the class is spread thinner than its slowest "
          "notebook (one student of class01 loops to its item's time limit), when each new "
          "worker's start (its fork server preloads torch; the reference is read or "
          "computed once per machine) is a large part of its share, and past "
          f"{1 / per:.0f} submissions per second, the client's serial key computing.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
