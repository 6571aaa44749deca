"""Running one cell in a limited child process: every failure is a result, never a crash."""

import subprocess
import textwrap
import time

from nngrade.grader import isolate
from nngrade.grader.limits import GiB

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
    result = run("y = (1,\n")
    assert result.kind == "syntax" and "line" in result.message


def test_child_processes_of_the_cell_are_killed_with_it(tmp_path):
    marker = tmp_path / "alive"
    source = textwrap.dedent(f"""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c",
            "import time, pathlib\\nwhile True:\\n    pathlib.Path({str(marker)!r}).touch(); time.sleep(0.1)"])
        y = 1
    """)
    assert run(source).status == "ok"
    time.sleep(0.5)
    marker.unlink(missing_ok=True)
    time.sleep(0.5)
    assert not marker.exists()


def test_the_cell_has_no_network_even_to_loopback():
    result = run("import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=2)\ny = 1")
    assert isolate.NO_NETWORK in result.protections
    assert result.kind == "exception" and "unreachable" in result.message


def test_the_cell_cannot_write_outside_its_working_directory(tmp_path):
    target = tmp_path / "planted.txt"
    result = run(f"open({str(target)!r}, 'w').write('x')\ny = 1")
    assert isolate.READ_ONLY in result.protections
    assert "Read-only file system" in result.message and not target.exists()
    assert run("open('scratch.txt', 'w').write('ok')\ny = len(open('scratch.txt').read())").observation == {"y": 2}


def test_hidden_folders_read_as_empty_and_their_files_are_gone(tmp_path):
    secret = tmp_path / "reference"
    secret.mkdir()
    (secret / "solution.py").write_text("ANSWER = 42")
    listed = run(f"import os\ny = len(os.listdir({str(secret)!r}))", hide=(str(secret),))
    assert isolate.HIDDEN in listed.protections and listed.observation == {"y": 0}
    read = run(f"y = len(open({str(secret / 'solution.py')!r}).read())", hide=(str(secret),))
    assert read.kind == "exception" and "No such file" in read.message


def test_the_cell_cannot_swap_the_probe_that_inspects_it():
    result = run("import sandbox_cases\nsandbox_cases.probe = lambda ns, **kw: {'y': 99}\ny = 'text'")
    assert result.kind == "probe" and result.message == "y should be an int"


def test_filling_the_disk_stops_at_the_private_scratch_space():
    result = run("i = 0\nwhile True:\n    open(f'f{i}', 'wb').write(b'x' * 1_000_000)\n    i += 1")
    assert result.kind == "exception" and "No space left" in result.message


def test_a_thread_that_never_ends_does_not_hold_the_result():
    started = time.monotonic()
    result = run("import threading, time\n"
                       "threading.Thread(target=lambda: time.sleep(10**6)).start()\ny = 1")
    assert result.observation == {"y": 1} and time.monotonic() - started < 5


def test_many_child_processes_are_all_killed_with_the_cell(tmp_path):
    source = textwrap.dedent("""
        import subprocess, sys
        kids = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
                for _ in range(20)]
        y = 1
    """)
    before = _sleepers()
    assert run(source).status == "ok"
    time.sleep(1)
    assert _sleepers() == before


def _sleepers():
    import subprocess

    out = subprocess.run(["pgrep", "-f", "time.sleep\\(600\\)"], capture_output=True, text=True)
    return set(out.stdout.split())


def test_a_process_that_leaves_the_group_with_setsid_still_dies_with_the_cell():
    token = f"escapee-{time.monotonic_ns()}"
    source = textwrap.dedent(f"""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {token!r}],
                         start_new_session=True)
        y = 1
    """)
    result = run(source)
    assert result.status == "ok" and isolate.OWN_PIDS in result.protections
    time.sleep(1)
    survivors = subprocess.run(["pgrep", "-f", token], capture_output=True, text=True).stdout
    assert survivors.split() == []
