"""The notebook's own run in a limited kernel."""

import os
import subprocess
import sys
import time

import nbformat
import pytest

import nngrade.reference

from grading import kernels_running

from nngrade.grader.sandbox import namespaces
from nngrade.grader.grading import kernel
from nngrade.grader.sandbox.limits import MiB


def _nb(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def test_errors_are_recorded_per_cell_and_the_run_goes_on_to_the_final_state():
    run = kernel.execute(_nb("a = 1", "1 / 0", "b = a + 41"), state_names=["b", "nope"])
    assert run.stopped is None
    assert [(e.index, e.ename) for e in run.cell_errors] == [(1, "ZeroDivisionError")]
    assert run.state == {"b": 42}


def test_a_cell_past_its_timeout_stops_the_run_with_a_sentence_naming_it():
    limits = kernel.KernelLimits(cell_timeout=3)
    run = kernel.execute(_nb("x = 1", "while True:\n    pass"), state_names=["x"], limits=limits)
    assert run.stopped and "cell 2" in run.stopped and "3 s limit" in run.stopped
    assert run.state == {}


def _kernels() -> set[str]:
    out = subprocess.run(["pgrep", "-f", "kernel_launch|ipykernel_launcher"], capture_output=True,
                         text=True).stdout
    return set(out.split())


def test_no_process_of_a_kernel_stopped_at_its_timeout_is_left_running():
    before = _kernels()
    limits = kernel.KernelLimits(cell_timeout=2)
    run = kernel.execute(_nb("while True:\n    pass"), limits=limits)
    assert run.stopped
    time.sleep(1)
    assert _kernels() - before == set()


def test_output_beyond_the_cap_is_dropped_and_flagged():
    limits = kernel.KernelLimits(output=10_000)
    run = kernel.execute(_nb("for i in range(2000):\n    print('line', i, flush=True)", "z = 5"),
                         state_names=["z"], limits=limits)
    assert run.output_truncated and run.state == {"z": 5}


def test_the_given_notebook_is_not_modified():
    nb = _nb("a = 1")
    kernel.execute(nb)
    assert nb.cells[0].outputs == [] and len(nb.cells) == 1


REFERENCE = os.path.dirname(os.path.abspath(nngrade.reference.__file__))


def test_the_notebook_run_has_no_network_cannot_write_outside_and_cannot_see_hidden(tmp_path):
    secret = tmp_path / "reference"
    secret.mkdir()
    (secret / "solution.py").write_text("ANSWER = 42")
    planted = tmp_path / "planted.txt"
    run = kernel.execute(_nb(
        "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=2)",
        f"open({str(planted)!r}, 'w').write('x')",
        f"import os\nseen = os.listdir({str(secret)!r})",
        f"try:\n    covered = os.listdir({REFERENCE!r})\nexcept OSError as e:\n"
        "    covered = type(e).__name__",
        "open('scratch.txt', 'w').write('fine')\nscratch = open('scratch.txt').read()",
        "open('/usr/planted.txt', 'w')"),
        state_names=["covered", "scratch"], hide=[str(secret), REFERENCE])
    # the folders outside the view have no path at all; the reference is covered
    assert [e.ename for e in run.cell_errors] == ["OSError", "FileNotFoundError",
                                                 "FileNotFoundError", "OSError"]
    assert "unreachable" in run.cell_errors[0].evalue and not planted.exists()
    assert "Read-only" in run.cell_errors[3].evalue
    # not in the view at all (an editable install) or covered (inside site-packages)
    assert run.state["covered"] in ("FileNotFoundError", "PermissionError")
    assert run.state["scratch"] == "fine"


def test_the_kernel_runs_with_every_protection_and_reports_them(tmp_path):
    run = kernel.execute(_nb("a = 1"), hide=[str(tmp_path)])
    assert set(run.protections) == set(namespaces.ALL)


def test_the_notebook_cannot_see_or_signal_the_graders_processes():
    run = kernel.execute(_nb(
        "import os\nparent = os.getppid()\n"
        f"try:\n    os.kill({os.getpid()}, 0)\n    reach = 'signalled'\n"
        "except ProcessLookupError:\n    reach = 'not found'"), state_names=["parent", "reach"])
    assert run.state == {"parent": 0, "reach": "not found"}


def test_the_notebook_cannot_start_processes_or_unmount_a_hidden_folder():
    run = kernel.execute(_nb(
        "import subprocess\nsubprocess.run(['true'])",
        f"import ctypes, os\nrefused = ctypes.CDLL(None).umount2({REFERENCE.encode()!r}, 2)\n"
        f"try:\n    seen = os.listdir({REFERENCE!r})\nexcept OSError as e:\n"
        "    seen = type(e).__name__"), state_names=["seen", "refused"], hide=[REFERENCE])
    assert [e.ename for e in run.cell_errors] == ["PermissionError"]
    assert run.state["seen"] in ("FileNotFoundError", "PermissionError")
    assert run.state["refused"] == -1


def test_one_output_over_the_message_cap_is_refused_with_a_sentence():
    # the cap is the same for any message: a print stands for a huge image too
    limits = kernel.KernelLimits(message=MiB, cell_timeout=20)
    run = kernel.execute(_nb("print('x' * 3_000_000)", "z = 5"), state_names=["z"],
                         limits=limits)
    assert run.stopped and "over 1 MiB is refused" in run.stopped
    assert run.stopped.startswith("the output of cell 1 was cut off"), run.stopped


def test_a_large_image_under_the_message_cap_is_dropped_from_the_kept_output():
    limits = kernel.KernelLimits(output=100_000)
    run = kernel.execute(_nb("from IPython.display import Image, display\n"
                             "display(Image(data=b'\\x89PNG\\r\\n\\x1a\\n' + bytes(3_000_000)))",
                             "z = 5"), state_names=["z"], limits=limits)
    assert run.stopped is None and run.output_truncated and run.state == {"z": 5}


def test_a_kernel_started_ahead_runs_one_notebook_and_the_next_gets_a_fresh_one():
    spares = kernel.Spares(budget=3)
    try:
        spares.ahead()
        spares._pending.join()
        planned = spares._ready.tmp
        first = kernel.execute(_nb(
            "import builtins\nbuiltins.planted = 'alice'\nopen('planted.txt', 'w').write('a')\n"
            "open('/tmp/planted.txt', 'w').write('a')\nmine = 1"), state_names=["mine"],
            spares=spares)
        second = kernel.execute(_nb(
            "import builtins, os\n"
            "seen = [getattr(builtins, 'planted', None), os.path.exists('planted.txt'),\n"
            "        os.path.exists('/tmp/planted.txt'), 'mine' in globals()]"),
            state_names=["seen"], spares=spares)
        assert first.state == {"mine": 1} and first.stopped is None
        assert second.state == {"seen": [None, False, False, False]}
        # started ahead: the first run found its kernel up (its start-up is the client's
        # connection only) and a spare for a third run is waiting
        assert not planned.exists()  # the run that used the spare removed its folder
        assert spares._ready is not None and spares._ready.tmp != planned
        assert kernels_running() == 1
    finally:
        spares.close()
    assert kernels_running() == 0


def test_a_spare_of_another_kind_is_stopped_and_the_run_launches_its_own():
    spares = kernel.Spares(budget=1)
    try:
        spares.ahead(limits=kernel.KernelLimits(memory=3 * 1024 * MiB))
        run = kernel.execute(_nb("import resource\nmemory = resource.getrlimit(resource.RLIMIT_AS)[0]"),
                             state_names=["memory"], spares=spares)
        # the spare had 3 GiB; this run asked for the default kernel
        assert run.state == {"memory": kernel.KernelLimits().memory}
        assert spares._ready is None and kernels_running() == 0  # the budget was spent
    finally:
        spares.close()


def test_a_kernel_started_ahead_has_the_declared_modules_loaded_but_no_name_bound():
    spares = kernel.Spares(budget=1)
    try:
        # colorsys: nothing of ipykernel imports it; the unknown name must not stop the kernel
        spares.ahead(preload=("colorsys", "nngrade_no_such_module"))
        spares._pending.join()
        run = kernel.execute(_nb("import os, sys\nseen = ['colorsys' in sys.modules, "
                                 "'colorsys' in globals(), os.getcwd() in sys.path]\n"
                                 "missing = 'nngrade_no_such_module' in sys.modules"),
                             state_names=["seen", "missing"], spares=spares,
                             preload=("colorsys", "nngrade_no_such_module"))
    finally:
        spares.close()
    # loaded before the notebook came, yet a notebook that forgets `import colorsys` fails;
    # the kernel's folder is not on the import path, as with ipykernel's own launcher
    assert run.stopped is None and run.cell_errors == ()
    assert run.state["seen"] == [True, False, False] and run.state["missing"] is False
    assert spares._ready is None  # the spare was used: it had the run's preload


def test_a_spare_with_other_modules_loaded_is_not_used():
    spares = kernel.Spares(budget=1)
    try:
        spares.ahead(preload=("colorsys",))
        run = kernel.execute(_nb("import sys\nloaded = 'colorsys' in sys.modules"),
                             state_names=["loaded"], spares=spares)
    finally:
        spares.close()
    assert run.state == {"loaded": False}


def test_a_kernel_that_dies_while_starting_is_a_sentence_and_leaves_no_traceback_at_exit():
    # nbclient drops its manager when the kernel dies while starting, but leaves its exit
    # handler registered: at the grader's exit, that handler printed a traceback under the
    # sentence the student got
    script = (
        "import sys, nbformat\n"
        "from nngrade.grader.grading import kernel\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])\n"
        "run = kernel.execute(nb, limits=kernel.KernelLimits(memory=24 * 2**20,"
        " startup_timeout=30))\n"
        "print('STOPPED', run.stopped)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "STOPPED the notebook could not be run" in done.stdout, done.stdout
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
