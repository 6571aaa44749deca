"""Running one cell in a limited child process: every failure is a result, never a crash."""

import errno
import os
import subprocess
import sys
import textwrap
import time

import pytest

import nngrade.reference

from nngrade.grader.sandbox import namespaces
from nngrade.grader.sandbox import cgroups, runner, syscalls, view
from nngrade.grader.sandbox.limits import GiB, Limits

# run_cell uses tests/sandbox_cases.py (tests/ is on sys.path before the fork server starts)
from grading import run_cell as run


def test_cell_runs_with_grader_inputs_and_returns_plain_data():
    result = run("y = x * 2")
    assert (result.status, result.observation) == ("ok", {"y": 6})


def test_exception_in_the_cell_is_reported_with_its_line():
    result = run("a = 1\nraise ValueError('bad value')")
    assert result.status == "error" and result.kind == "exception"
    assert "ValueError: bad value (line 2 of your cell)" in result.message


def test_endless_loop_is_stopped_at_the_timeout():
    result = run("while True:\n    pass", timeout=2)
    assert result.kind == "timeout" and "2 s limit" in result.message


def test_sys_exit_is_an_error_not_a_crash_of_the_grader():
    result = run("import sys\nsys.exit(3)")
    assert result.kind == "exit" and "exit(3)" in result.message


def test_os_exit_is_reported_as_a_dead_process():
    result = run("import os\nos._exit(0)")
    assert result.kind == "crash"


def test_memory_bomb_hits_the_memory_cap():
    result = run("big = bytearray(3 * 1024**3)\ny = 1", memory=GiB)
    assert result.kind == "memory" and "1 GiB" in result.message


def test_huge_print_is_bounded_and_the_cell_still_graded():
    result = run("print('x' * 50_000_000)\ny = 1")
    assert result.status == "ok" and result.observation == {"y": 1}


def test_blank_cell_is_unfilled_and_missing_name_is_named():
    assert run("y = ...").status == "unfilled"
    missing = run("z = 1")
    assert missing.kind == "missing" and "`y`" in missing.message


def test_probe_error_message_reaches_the_student():
    result = run("y = 'text'")
    assert result.kind == "probe" and result.message == "y should be an int"


def test_syntax_error_is_reported_with_its_line():
    result = run("y = 1\nz = (1,\n")
    assert result.kind == "syntax" and "syntax error on line 2" in result.message
    assert "never closed" in result.message


@pytest.mark.parametrize("source", [
    "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'pass'])\ny = 1",
    "import os, sys\nos.posix_spawn(sys.executable, [sys.executable, '-c', 'pass'], os.environ)\ny = 1",
])
def test_starting_another_program_is_refused_at_once(source):
    started = time.monotonic()
    result = run(source)
    assert syscalls.FILTERED in result.protections
    assert result.kind == "exception" and "PermissionError" in result.message
    assert "may not start processes" in result.message and time.monotonic() - started < 5


def test_a_fork_flood_stops_at_the_task_cap_or_at_the_first_fork():
    result = run("import os\nwhile True:\n    os.fork()\ny = 1", timeout=30)
    assert result.kind == "exception"
    if cgroups.PROCESSES in result.protections:  # a control group holds them: 64 tasks
        assert "BlockingIOError" in result.message
    else:  # no group on this machine: the filter refuses the first fork
        assert "PermissionError" in result.message


def test_a_pool_of_two_workers_runs_in_the_sandbox():
    result = run("from multiprocessing import Pool\nwith Pool(2) as pool:\n"
                 "    y = sum(pool.map(abs, [-1, -2, 3]))", timeout=60)
    if cgroups.PROCESSES in result.protections:
        assert result.observation == {"y": 6}
    else:
        assert "PermissionError" in result.message


def test_processes_share_one_memory_cap():
    # two children of 1.2 GiB each beside a parent of 0.5 GiB: each is under its own limit,
    # together they are over the group's 2 GiB, so the group kills one of them
    source = ("import os, signal\nchildren = []\nfor _ in range(2):\n    pid = os.fork()\n"
              "    if pid == 0:\n        block = bytearray(1200 * 2**20)\n"
              "        for i in range(0, len(block), 4096):\n            block[i] = 1\n"
              "        os._exit(0)\n    children.append(pid)\n"
              "mine = bytearray(500 * 2**20)\nfor i in range(0, len(mine), 4096):\n    mine[i] = 1\n"
              "statuses = [os.waitpid(pid, 0)[1] for pid in children]\n"
              "y = sum(os.WIFSIGNALED(s) and os.WTERMSIG(s) == signal.SIGKILL for s in statuses)")
    result = run(source, timeout=60)
    if _groups_here():  # the supervisor saw the kill: the item is lost, whatever the cell sent
        assert result.kind == "memory" and "together" in result.message, result
    else:  # no group here: no process at all
        assert "PermissionError" in result.message


def _groups_here() -> bool:
    """Whether this machine gives a sandbox a control group (root, a writable hierarchy)."""
    return cgroups.PROCESSES in (run("y = 1").protections or ())


def test_the_cell_runs_inside_its_own_control_group():
    # the cell counts the hierarchies where its process is in a sandbox's group
    result = run("y = sum(line.rsplit('/', 1)[-1].startswith('nngrade-')\n"
                 "        for line in open('/proc/self/cgroup').read().split())")
    if _groups_here():
        probe = cgroups.create(f"test-{os.getpid()}", GiB, 4)
        assert probe is not None
        probe.remove()
        assert result.observation == {"y": len(probe.folders)}, result
    else:  # no group here: the cell is in none of nngrade's (and may start no process)
        assert result.observation == {"y": 0}, result


def test_a_forked_copy_of_the_cell_never_speaks_and_a_left_process_voids_the_result():
    forked = run("import os\npid = os.fork()\nif pid:\n    os.waitpid(pid, 0)\ny = 1")
    assert forked.observation == {"y": 1} or "PermissionError" in forked.message
    left = run("import os, time\nif os.fork() == 0:\n    time.sleep(100)\ny = 1")
    assert left.kind == "thread" or "PermissionError" in left.message
    if left.kind == "thread":
        assert "left 1 process(es) running" in left.message


def test_threads_still_run_under_the_system_call_filter():
    result = run("import threading, torch\ntorch.set_num_threads(2)\nout = []\n"
                 "t = threading.Thread(target=lambda: out.append(int(torch.ones(300, 300).sum())))\n"
                 "t.start(); t.join()\ny = out[0] + int((torch.ones(400, 400) @ torch.ones(400, 1)).sum())")
    assert result.observation == {"y": 90_000 + 160_000}


_LIBC = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"


REFERENCE = os.path.dirname(os.path.abspath(nngrade.reference.__file__))
SOLUTION = os.path.join(REFERENCE, "vanishing", "solution.py")


def test_unmounting_what_hides_the_reference_does_not_reveal_it():
    source = (_LIBC + f"code = libc.umount2({REFERENCE.encode()!r}, 2)\n"
              f"y = len(open({SOLUTION!r}).read())")
    result = run(source, hide=(REFERENCE,))
    assert view.ALLOW_LISTED in result.protections
    assert result.kind == "exception"
    assert "No such file" in result.message or "Permission denied" in result.message


def test_remounting_the_root_writable_or_joining_the_graders_namespaces_fails(tmp_path):
    target = tmp_path / "planted.txt"
    remount = (_LIBC + "refused = libc.mount(None, b'/usr', None, 0x20 | 0x1000, None)\n"
               "open('/usr/planted.txt', 'w').write('x')\ny = 1")
    assert "Read-only file system" in run(remount).message
    assert not os.path.exists("/usr/planted.txt") and not target.exists()
    # the grader's namespaces have no name in the sandbox's /proc, and setns is refused
    outside = run(f"import os\nfd = os.open('/proc/{os.getpid()}/ns/net', os.O_RDONLY)\ny = 1")
    assert outside.kind == "exception" and "No such file" in outside.message
    join = (_LIBC + "import os\n"
            "fd = os.open('/proc/self/ns/net', os.O_RDONLY)\n"
            "joined = libc.setns(fd, 0)\n"
            "y = 1000 + ctypes.get_errno() if joined == -1 else 0")
    assert run(join).observation == {"y": 1000 + errno.EPERM}  # refused, with EPERM
    connect = "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=2)\ny = 1"
    result = run(connect)
    assert result.kind == "exception" and "unreachable" in result.message


def test_a_pid_namespace_init_takes_a_setsid_escapee_down_with_it():
    # the layer beneath the filter: were a process started, it could not outlive the cell
    token = f"escapee-{time.monotonic_ns()}"
    script = textwrap.dedent(f"""
        import os, subprocess, sys
        from nngrade.grader.sandbox import namespaces
        assert namespaces.own_pid_namespace()
        if os.fork() == 0:
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {token!r}],
                             start_new_session=True)
            os._exit(0)
        os.wait()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    time.sleep(1)
    survivors = subprocess.run(["pgrep", "-f", token], capture_output=True, text=True).stdout
    assert survivors.split() == []


def test_the_cell_has_no_network_even_to_loopback():
    result = run("import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=2)\ny = 1")
    assert namespaces.NO_NETWORK in result.protections
    assert result.kind == "exception" and "unreachable" in result.message


def test_the_cell_cannot_write_outside_its_working_directory(tmp_path):
    target = tmp_path / "planted.txt"
    result = run(f"open({str(target)!r}, 'w').write('x')\ny = 1")
    assert view.ALLOW_LISTED in result.protections
    assert "No such file" in result.message and not target.exists()  # not even a path
    result = run("open('/usr/planted.txt', 'w').write('x')\ny = 1")
    assert "Read-only file system" in result.message and not os.path.exists("/usr/planted.txt")
    assert run("open('scratch.txt', 'w').write('ok')\ny = len(open('scratch.txt').read())").observation == {"y": 2}


def test_hidden_folders_and_what_lies_outside_the_view_cannot_be_read(tmp_path):
    secret = tmp_path / "reference"
    secret.mkdir()
    (secret / "solution.py").write_text("ANSWER = 42")
    for folder, file in ((str(secret), str(secret / "solution.py")), (REFERENCE, SOLUTION)):
        listed = run(f"import os\ny = len(os.listdir({folder!r}))", hide=(folder,))
        assert listed.kind == "exception" and "Error" in listed.message, listed
        read = run(f"y = len(open({file!r}).read())", hide=(folder,))
        assert read.kind == "exception" and "ANSWER" not in read.message


def test_the_cell_cannot_swap_the_probe_that_inspects_it():
    result = run("import sandbox_cases\nsandbox_cases.probe = lambda ns, **kw: {'y': 99}\ny = 'text'")
    assert result.kind == "probe" and result.message == "y should be an int"


def test_filling_the_disk_stops_at_the_private_scratch_space():
    result = run("i = 0\nwhile True:\n    open(f'f{i}', 'wb').write(b'x' * 1_000_000)\n    i += 1")
    assert result.kind == "exception" and "No space left" in result.message


def test_a_thread_the_cell_leaves_running_voids_its_result_at_once():
    started = time.monotonic()
    result = run("import threading, time\n"
                 "threading.Thread(target=lambda: time.sleep(10**6)).start()\ny = 1")
    assert result.kind == "thread" and "left 1 thread(s) running" in result.message
    assert time.monotonic() - started < 5


def _cases(source: str, xs, timeout: float = 10) -> list:
    """Run ``source`` on one sandbox per item: one case per x, as an item's cases run."""
    return runner.run_cases([runner.RunRequest(
        source=source, cases_module="sandbox_cases", build="build_x", probe="probe",
        writes=("y",), args={"x": x}, limits=Limits(timeout=timeout)) for x in xs])


def test_the_cases_of_one_item_share_a_sandbox_but_nothing_of_each_other():
    # what one case's cell leaves in a library module, its namespace or builtins is gone
    # before the next case; each case gets its own inputs
    source = ("import json\n"
              "json.seen = getattr(json, 'seen', 0) + 1\n"
              "count = globals().get('count', 0) + 1\n"
              "len = None\n"
              "y = x * 100 + json.seen * 10 + count\n")
    results = _cases(source, [1, 2, 3])
    assert [r.observation for r in results] == [{"y": 111}, {"y": 211}, {"y": 311}]
    assert all(r.protections == results[0].protections for r in results)


def test_an_endless_loop_on_one_case_is_that_cases_timeout_and_ends_the_batch():
    started = time.monotonic()
    results = _cases("while x == 2:\n    pass\ny = x\n", [1, 2, 3], timeout=2)
    assert [r.status for r in results] == ["ok", "error"]
    assert results[1].kind == "timeout" and "2 s limit" in results[1].message
    assert time.monotonic() - started < 8  # one case's time, not the whole batch's


def test_a_cell_that_swallows_the_clock_is_still_out_of_time():
    source = ("import time\n"
              "try:\n"
              "    time.sleep(60)\n"
              "except BaseException:\n"
              "    pass\n"
              "y = x\n")
    results = _cases(source, [1, 2], timeout=1)
    assert [(r.status, r.kind) for r in results] == [("error", "timeout")]


def test_a_batch_that_dies_is_run_again_case_by_case_to_name_the_case():
    results = _cases("import os\nif x == 2:\n    os._exit(3)\ny = x\n", [1, 2, 3])
    assert [r.status for r in results] == ["ok", "error"]
    assert results[0].observation == {"y": 1} and results[1].kind == "crash"


def test_one_batch_holds_only_requests_of_one_item():
    first, other = (runner.RunRequest(source=s, cases_module="sandbox_cases", build="build",
                                      probe="probe", writes=("y",)) for s in ("y = 1", "y = 2"))
    with pytest.raises(ValueError):
        runner.run_cases([first, other])


def test_each_case_is_built_just_before_its_cell_so_what_a_builder_keeps_is_its_own():
    results = runner.run_cases([runner.RunRequest(
        source="y = x", cases_module="sandbox_cases", build="build_kept", probe="probe_kept",
        writes=("y",), args={"x": x}) for x in (1, 2, 3)])
    assert [r.observation for r in results] == [{"y": x, "kept": x} for x in (1, 2, 3)]


def test_the_filter_built_ahead_is_in_force_in_the_cell_with_no_new_privileges():
    # the fork server builds the program once; each run loads it itself (prctl)
    result = run("fields = dict(line.split(':', 1) for line in open('/proc/self/status'))\n"
                 "y = 10 * int(fields['Seccomp']) + int(fields['NoNewPrivs'])")
    built = syscalls.compiled() is not None
    assert (syscalls.FILTERED in result.protections) == built
    # mode 2 (a filter) where libseccomp is, none (0) where it is not; no_new_privs either way
    assert result.observation == {"y": 21 if built else 1}, result
