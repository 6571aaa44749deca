"""Grading on a Dask cluster (``nngrade grade --cluster``), through the command line.

The class is exercise 05 (the cheapest): one item answered, a broken file. Every run passes
``--execute`` (the notebooks' own runs are what the fault tests keep busy and kill, and the
--out folder then holds the executed notebooks); their given import cell is made cheap (no
torch, matplotlib, scikit-learn in the notebook's own run: no check of the answered item
reads it), so a notebook costs seconds. The
cluster runs go through a child ``nngrade`` process: its Dask workers are its children,
and the fault tests kill them (or the scheduler) from outside, as a crash would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from nngrade.errors import ClusterError
from nngrade.grader.cli import main
from nngrade.grader.grading import cluster
from nngrade.reference import load_exercise

from grading import notebook_with

EXERCISE = load_exercise("05_edge_detection")
FILE = f"{EXERCISE.stem}.ipynb"
CHEAP_IMPORTS = {"import matplotlib.pyplot as plt\nimport torch\nimport torch.nn.functional as F\n"
                 "from torch import nn\nfrom scipy import ndimage\n"
                 "from matplotlib import cbook\n": ""}
DASK = Path(sys.executable).parent / "dask"


def _write(folder: Path, student: str, nb: nbformat.NotebookNode | str) -> None:
    (folder / student).mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        (folder / student / FILE).write_text(nb)
    else:
        nbformat.write(nb, str(folder / student / FILE))


def _answered() -> nbformat.NotebookNode:
    item = "edges.rgb2gray"
    return notebook_with(EXERCISE, {item: EXERCISE.solution[item]}, rest="blank",
                         given=CHEAP_IMPORTS)


def _blank() -> nbformat.NotebookNode:
    return notebook_with(EXERCISE, {}, rest="blank", given=CHEAP_IMPORTS)


def _slow() -> nbformat.NotebookNode:
    """A blank notebook whose own run sleeps: it is still being graded when it is killed."""
    nb = _blank()
    nb.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(40)"))
    return nb


def _nngrade(*args: str, tmp: Path, **popen) -> subprocess.Popen:
    # TMPDIR under the test's folder: every process of the run, kernels too, is findable
    env = {**os.environ, "TMPDIR": str(tmp)}
    tmp.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "nngrade", "grade", "--execute", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


# what differs from one run to the next: the time spent, in all and per stage
_TIMES = (r'"seconds": [0-9.e+-]+', r'"timings": \{[^}]*\}')


def _without_seconds(text: str) -> str:
    for pattern in _TIMES:
        text = re.sub(pattern, '"time": 0', text)
    return text


def _folder(out: Path) -> dict[str, bytes]:
    """Every file of an --out folder, times left out."""
    found = {}
    for path in sorted(out.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            for pattern in _TIMES:
                data = re.sub(pattern.encode(), b'"time": 0', data)
            found[str(path.relative_to(out))] = data
    return found


def _stored(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}


def _wait(condition, seconds: float = 180.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _end_leftovers(tmp: Path, grace: float = 5.0) -> list[str]:
    """The command lines of processes still running from the test's folder after ``grace``
    seconds (kernels the run left behind), which are then killed."""
    def running() -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            if str(tmp) in " ".join(proc.info["cmdline"] or ()) and proc.pid != os.getpid():
                found.append(proc)
        return found

    deadline = time.monotonic() + grace
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = []
    for proc in running():
        try:
            left.append(" ".join(proc.cmdline()))
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    return left


@pytest.fixture(scope="module")
def small_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("class")
    _write(folder, "ann", _answered())
    _write(folder, "cy", "{ not a notebook")
    return folder


def test_a_local_cluster_grades_a_class_as_local_grading_does_and_a_rerun_grades_nothing(
        small_class, tmp_path, capsys):
    local_out, cluster_out = tmp_path / "local", tmp_path / "cluster"
    assert main(["grade", "--execute", str(small_class), "--format", "json", "--out",
                 str(local_out), "--jobs", "2", "--quiet"]) == 0
    local = capsys.readouterr().out
    started = time.monotonic()
    proc = _nngrade(str(small_class), "--format", "json", "--out", str(cluster_out),
                    "--cluster", "local:2", tmp=tmp_path / "tmp")
    out, err = proc.communicate(timeout=300)
    print(f"cluster run {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, err
    assert "2/2" in err and "1 not gradable" in err  # the progress bar, as local grading's
    assert _without_seconds(out) == _without_seconds(local)
    assert _folder(cluster_out) == _folder(local_out)
    # the workers ran the full sandbox: every protection local grading had
    ann = json.loads(out)["submissions"][0]
    assert ann["student"] == "ann" and ann["score"] == 1 and len(ann["protections"]) >= 5
    stored = _stored(cluster_out)
    assert len(stored) == 2
    again = _nngrade(str(small_class), "--format", "json", "--out", str(cluster_out),
                     "--cluster", "local:2", "--quiet", tmp=tmp_path / "tmp")
    out_again, err = again.communicate(timeout=300)
    print(f"both cluster runs {time.monotonic() - started:.1f} s")
    assert again.returncode == 0, err
    assert out_again == out and _stored(cluster_out) == stored
    assert _end_leftovers(tmp_path / "tmp") == []


def test_a_worker_killed_mid_submission_is_replaced_once_then_the_submission_is_not_gradable(
        tmp_path):
    folder, out, tmp = tmp_path / "class", tmp_path / "out", tmp_path / "tmp"
    _write(folder, "ben", _blank())
    _write(folder, "slow", _slow())
    proc = _nngrade(str(folder), "--format", "json", "--out", str(out), "--cluster", "local:2",
                    "--quiet", tmp=tmp)
    _wait(lambda: len(_stored(out)) == 1)  # ben is graded; slow is still being graded

    def grading_worker() -> psutil.Process | None:
        for worker in psutil.Process(proc.pid).children():
            try:
                if any("kernel_launch" in " ".join(c.cmdline()) for c in worker.children()):
                    return worker
            except psutil.NoSuchProcess:
                pass
        return None

    killed = []
    for _ in range(2):
        found: list[psutil.Process] = []
        # one look at the workers per try: the one grading may finish between two looks
        _wait(lambda: bool(found.append(grading_worker()) or (found[-1] is not None
                                                              and found[-1].pid not in killed)))
        worker = found[-1]
        killed.append(worker.pid)
        worker.kill()
    report, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    ben, slow = json.loads(report)["submissions"]
    assert ben["errors"] == [] and ben["items"]
    assert slow["student"] == "slow" and slow["items"] == []
    assert "died, and so did the one that graded it again" in slow["errors"][0]
    assert len(_stored(out)) == 1  # a worker's death is not a grade: a re-run tries again
    assert _end_leftovers(tmp) == []  # the killed workers' kernels went with them


def test_ctrl_c_ends_a_cluster_run_keeps_what_finished_and_leaves_no_process(tmp_path):
    folder, out, tmp = tmp_path / "class", tmp_path / "out", tmp_path / "tmp"
    _write(folder, "cy", "{ not a notebook")
    _write(folder, "slow", _slow())
    _write(folder, "zed", _slow())
    args = ["grade", "--execute", str(folder), "--out", str(out), "--cluster", "local:2",
            "--quiet"]
    # a background job (as CI may run this suite) inherits SIGINT ignored: restore what a
    # terminal gives, where Ctrl-C raises KeyboardInterrupt
    code = ("import signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            f"from nngrade.grader.cli import main\nsys.exit(main({args!r}))")
    tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                            env={**os.environ, "TMPDIR": str(tmp)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    _wait(lambda: len(_stored(out)) == 1)  # cy; both slow notebooks are being graded
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: to every process
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err
    assert len(_stored(out)) == 1
    assert _end_leftovers(tmp) == []


def test_the_scheduler_going_away_ends_the_run_with_what_finished_stored(tmp_path):
    folder, out, tmp = tmp_path / "class", tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    _write(folder, "cy", "{ not a notebook")
    _write(folder, "slow", _slow())
    env = {**os.environ, "TMPDIR": str(tmp), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    address_file = tmp / "scheduler.json"
    scheduler = subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(address_file)],
                                 env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    worker = None
    try:
        _wait(lambda: address_file.is_file() and address_file.stat().st_size > 0, 60)
        _wait(lambda: "address" in json.loads(address_file.read_text() or "{}"), 10)
        address = json.loads(address_file.read_text())["address"]
        worker = subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1",
                                   "--no-dashboard", "--local-directory", str(tmp)],
                                  env=env, stderr=subprocess.DEVNULL, start_new_session=True)
        proc = _nngrade(str(folder), "--out", str(out), "--cluster", address, "--quiet", tmp=tmp)
        _wait(lambda: len(_stored(out)) == 1)
        scheduler.kill()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2
        assert err.strip().splitlines()[-1] == (
            f"nngrade: the Dask scheduler at {address} went away: 1 of 2 submissions were "
            "graded and stored; run the same command again to grade the rest")
        assert len(_stored(out)) == 1
    finally:
        for started in (scheduler, worker):
            if started is not None and started.poll() is None:
                os.killpg(started.pid, signal.SIGKILL)
                started.wait(30)
        _end_leftovers(tmp)


# --- what the client checks and says, without a cluster ---------------------------------------

def test_a_worker_of_another_version_or_reference_or_a_daemonic_one_is_refused_by_name():
    mine = cluster.versions()
    good = {**mine, "daemon": False}
    cluster.check_workers(mine, {"tcp://a:1": good})
    other_version = {**good, "nngrade": "0.0.1"}
    with pytest.raises(ClusterError, match=r"tcp://b:2 runs nngrade 0\.0\.1"):
        cluster.check_workers(mine, {"tcp://a:1": good, "tcp://b:2": other_version})
    stem = EXERCISE.stem
    other_reference = {**good, "fingerprints": {**mine["fingerprints"], stem: "0" * 20}}
    with pytest.raises(ClusterError, match=f"tcp://c:3 would grade {stem} against another"):
        cluster.check_workers(mine, {"tcp://c:3": other_reference})
    with pytest.raises(ClusterError, match="tcp://d:4 is a daemonic process.*DAEMON=False"):
        cluster.check_workers(mine, {"tcp://d:4": {**good, "daemon": True}})


def test_cluster_without_distributed_installed_says_how_to_install_it(small_class, monkeypatch,
                                                                      capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    assert main(["grade", str(small_class), "--cluster", "local:2", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"nngrade: {cluster.INSTALL_HINT}" and "pip install 'nngrade[cluster]'" in err


def test_nngrade_without_cluster_never_imports_distributed():
    code = ("import sys, nngrade.grader.cli, nngrade.grader.grading.cluster\n"
            "print('distributed' in sys.modules, 'dask' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "False"]


def test_a_local_cluster_of_no_workers_is_refused(small_class, capsys):
    assert main(["grade", str(small_class), "--cluster", "local:none", "--quiet"]) == 2
    assert "local:2" in capsys.readouterr().err
