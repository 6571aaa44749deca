"""Grade a class on a Dask cluster: each submission is one task on a worker machine.

The client (the ``nngrade grade`` process) keeps what local grading keeps: the order of the
reports, the progress callback, the store of finished grades. What travels to a worker is
the notebook's bytes and a picklable factory of the client's ``Grader``; what comes back is
the report as plain data. A worker builds its Grader once per process (so the reference's
observations are computed, or read from that machine's cache, once per worker process) and
grades the bytes in a private temporary folder with the full sandbox.

``distributed`` is imported only here and only when a cluster is asked for, so nngrade
without the ``cluster`` extra works unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import multiprocessing
import os
import pickle
import tempfile
import threading
import warnings
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import nngrade
from nngrade.errors import ClusterError
from nngrade.grader.grading import expected
from nngrade.grader.grading.batch import Target
from nngrade.grader.grading.grade import Grader
from nngrade.grader.grading.store import ResultStore
from nngrade.grader.report import GradeReport, SubmissionReport, submission_from_dict

INSTALL_HINT = ("grading on a cluster needs Dask's distributed package: install it with "
                "pip install 'nngrade[cluster]'")
# A submission whose worker dies is graded once more elsewhere, then reported (KilledWorker).
ALLOWED_FAILURES = 1
# How long the run waits for a remote scheduler's first worker.
WORKER_WAIT = 60.0

# The config a cluster of ours needs: a daemonic process may not have children, and the
# sandbox forks every cell's process from a fork server started by the worker.
WORKER_CONFIG: dict[str, Any] = {
    "distributed.worker.daemon": False,
    "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
}

_graders: dict[bytes, Grader] = {}
_graders_lock = threading.Lock()


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError(INSTALL_HINT) from None
    return distributed


# --- what runs on a worker --------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def versions(factory_blob: bytes = b"") -> dict[str, Any]:
    """This machine's nngrade version and the fingerprint of every exercise's reference in
    the course the grader of ``factory_blob`` grades (default: the built-in course): a
    worker grades like the client only when all of them are the same. Computed once per
    process (it reads every observation source once per exercise: seconds)."""
    grader = pickle.loads(factory_blob)() if factory_blob else Grader()
    return {"nngrade": nngrade.__version__,
            "fingerprints": {name: expected.fingerprint(grader.load_exercise(name))
                             for name in grader.exercise_names()}}


def worker_facts(factory_blob: bytes = b"") -> dict[str, Any]:
    """What the client checks of a worker before sending it work: ``versions()`` and whether
    the worker process is daemonic (then the sandbox cannot start its processes)."""
    return {**versions(factory_blob), "daemon": bool(multiprocessing.current_process().daemon)}


def _grader_of(factory_blob: bytes, stems: tuple[str, ...]) -> Grader:
    # one Grader per worker process and factory: its reference observations are kept, and
    # its fork server preloads what the run's exercises declare
    with _graders_lock:
        if factory_blob not in _graders:
            grader = pickle.loads(factory_blob)()
            grader.prepare(stems)
            _graders[factory_blob] = grader
        return _graders[factory_blob]


def grade_bytes(factory_blob: bytes, data: bytes, name: str,
                client_versions: Mapping[str, Any], stems: tuple[str, ...]) -> dict[str, Any]:
    """Grade a notebook's bytes on this worker, as a file called ``name`` in a private
    temporary folder; the report as plain data (its path is the temporary one). ``stems``
    are the exercises of the run, for the worker's warm path.

    A worker that joined after the run's start is checked here, against the client's
    ``versions()``: it raises ClusterError rather than grade differently."""
    check_workers(client_versions, {_worker_name(): worker_facts(factory_blob)})
    grader = _grader_of(factory_blob, stems)
    with tempfile.TemporaryDirectory(prefix="nngrade-submission-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        return asdict(grader.grade(path))


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "on this machine"


# --- the client's side ------------------------------------------------------------------------

def check_workers(mine: Mapping[str, Any], workers: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse, with one sentence naming the worker, a worker that is daemonic or whose
    nngrade version or reference fingerprints differ from this machine's."""
    for address, facts in sorted(workers.items()):
        if facts.get("daemon"):
            raise ClusterError(
                f"the Dask worker {address} is a daemonic process, which may not start the "
                "sandbox's processes: start it with DASK_DISTRIBUTED__WORKER__DAEMON=False")
        if facts.get("nngrade") != mine["nngrade"]:
            raise ClusterError(
                f"the Dask worker {address} runs nngrade {facts.get('nngrade')} and this "
                f"machine runs {mine['nngrade']}: install the same version on every worker")
        theirs = facts.get("fingerprints", {})
        differ = sorted(n for n in set(mine["fingerprints"]) | set(theirs)
                        if theirs.get(n) != mine["fingerprints"].get(n))
        if differ:
            raise ClusterError(
                f"the Dask worker {address} would grade {', '.join(differ)} against another "
                "reference than this machine (a different nngrade install or library "
                "versions): install the same nngrade and libraries on every worker")


@contextmanager
def connect(address: str) -> Iterator[Any]:
    """A Dask client of ``address``: ``local:N`` starts a LocalCluster of N single-threaded
    worker processes configured for the sandbox; anything else is a running scheduler's
    address (``tcp://HOST:8786``)."""
    distributed = _distributed()
    import dask

    # Dask's own logging of a lost scheduler or a dead worker is tracebacks on stderr; the
    # run says what happened in one sentence instead
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with dask.config.set(WORKER_CONFIG), warnings.catch_warnings():
            # the scheduler's HTTP port taken by another cluster: it picks another, harmlessly
            warnings.filterwarnings("ignore", message="Port .* is already in use",
                                    category=UserWarning)
            yield from _client(distributed, address)
    finally:
        quiet.setLevel(level)


def _client(distributed: Any, address: str) -> Iterator[Any]:
    """A client of a LocalCluster of ours (``local:N``) or of a running scheduler."""
    if address.startswith("local:"):
        try:
            count = int(address.split(":", 1)[1])
        except ValueError:
            count = 0
        if count < 1:
            raise ClusterError(f"--cluster {address}: local needs a number of workers of at "
                               "least 1, as in local:2")
        with distributed.LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                                      dashboard_address=None,
                                      silence_logs=logging.CRITICAL) as cluster:
            with distributed.Client(cluster) as client:
                client.wait_for_workers(count)
                yield client
        return
    try:
        client = distributed.Client(address, timeout=30)
    except (OSError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT)
        except (TimeoutError, OSError):
            raise ClusterError(f"no Dask worker joined the scheduler at {address} within "
                               f"{WORKER_WAIT:g} s: start one with dask worker "
                               f"{address}") from None
        yield client


def _not_gradable(target: Target, reason: str) -> SubmissionReport:
    return SubmissionReport(str(target.path), None, 0.0, 0.0, errors=(reason,),
                            student=target.student)


def grade_all(targets: Iterable[Target], *, address: str, factory: Callable[[], Grader],
              store: ResultStore | None = None,
              progress: Callable[[SubmissionReport], None] | None = None) -> GradeReport:
    """Grade every target on the cluster at ``address``; reports keep the given order.

    The contract of ``batch.grade_all``: stored grades are not graded again, each finished
    grade is stored as it arrives, a ``SetupError`` on a worker stops the run, Ctrl-C
    cancels what has not finished. A submission whose worker died twice is reported as not
    gradable (and not stored); a lost scheduler ends the run with a ``ClusterError``."""
    distributed = _distributed()
    targets = list(targets)
    blob = pickle.dumps(factory)
    local = factory()  # for the store's keys, and for files this machine cannot even read
    results: dict[int, SubmissionReport] = {}
    keys: dict[int, str | None] = {}

    def finish(index: int, report: SubmissionReport) -> None:
        results[index] = report
        if progress:
            progress(report)

    pending: list[tuple[int, Target, bytes]] = []
    for index, target in enumerate(targets):
        key = keys[index] = store.key(target.path, local) if store else None
        stored = store.load(key) if store and key else None
        if stored is not None:
            finish(index, dataclasses.replace(stored, path=str(target.path),
                                              student=target.student))
            continue
        try:
            pending.append((index, target, target.path.read_bytes()))
        except OSError:
            # unreadable here: the local Grader says so, as local grading does
            finish(index, dataclasses.replace(local.grade(target.path), student=target.student))
    if pending:  # an unchanged re-run does not even start a cluster
        _grade_pending(distributed, address, blob, local, pending, targets, results, finish,
                       store, keys)
    return GradeReport(tuple(results[i] for i in range(len(targets))))


def _grade_pending(distributed: Any, address: str, blob: bytes, local: Grader,
                   pending: list[tuple[int, Target, bytes]], targets: list[Target],
                   results: dict[int, SubmissionReport],
                   finish: Callable[[int, SubmissionReport], None], store: ResultStore | None,
                   keys: dict[int, str | None]) -> None:
    with connect(address) as client:
        mine = versions(blob)
        check_workers(mine, client.run(worker_facts, blob))
        stems = tuple(dict.fromkeys(s for s in (local.exercise_of(data, target.path)
                                                for _, target, data in pending) if s))
        futures: dict[Any, int] = {}
        for index, target, data in pending:
            future = client.submit(grade_bytes, blob, data, target.path.name, mine, stems,
                                   pure=False, key=f"nngrade-{index}-{os.urandom(4).hex()}")
            futures[future] = index
        try:
            for future in distributed.as_completed(list(futures)):
                index, target = futures[future], targets[futures[future]]
                try:
                    plain = future.result()
                except distributed.KilledWorker:
                    finish(index, _not_gradable(target, (
                        "the worker grading this notebook died, and so did the one that "
                        "graded it again: the notebook may crash or exhaust the grading "
                        "machine; grade it alone to see why")))
                    continue
                except CancelledError:
                    raise ClusterError(
                        f"the Dask scheduler at {address} went away: {len(results)} of "
                        f"{len(targets)} submissions were graded" +
                        (" and stored; run the same command again to grade the rest"
                         if store else "")) from None
                report = dataclasses.replace(submission_from_dict(plain), path=str(target.path),
                                             student=target.student)
                key = keys[index]
                if store and key:
                    store.save(key, report)
                finish(index, report)
        except BaseException:
            # Ctrl-C, a broken reference or a lost scheduler: what finished is stored
            try:
                client.cancel(list(futures), force=True)
            except Exception:  # the scheduler may be gone already
                pass
            raise
