"""The warm fork server: what it does once for every sandbox, and how it ends."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _state(pid: int) -> str:
    """A process's state letter ("" when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def test_the_fork_server_ends_without_tearing_down_what_it_preloaded(tmp_path):
    # A library that leaves work for the interpreter's exit, as torch, matplotlib and 2,000
    # other modules do (0.9-1.5 s of CPU for exercise 05's preload, which a caller reading
    # the grader's output waited for): the fork server must skip it when its grader ends.
    marks = tmp_path / "marks"
    (tmp_path / "slow_teardown.py").write_text(textwrap.dedent(f"""
        import atexit, os
        with open({str(marks)!r}, "a") as f:
            f.write(f"imported {{os.getpid()}}\\n")
        atexit.register(lambda: open({str(marks)!r}, "a").write("torn down\\n"))
    """))
    grader = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path)!r}, {str(TESTS)!r}]
        from nngrade.grader.sandbox import runner
        runner.preload(["slow_teardown"])
        from grading import run_cell
        assert run_cell("y = 1", timeout=60).observation == {{"y": 1}}
    """)
    # the fork server finds a preloaded module on its own path (Python 3.11 leaves the
    # parent's sys.path to its children)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    subprocess.run([sys.executable, "-c", grader], check=True, timeout=120, env=env)
    lines = marks.read_text().splitlines()
    server = int(lines[0].split()[1])
    assert server != os.getpid()
    deadline = time.monotonic() + 30
    while _state(server) not in ("", "Z", "X") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _state(server) in ("", "Z", "X"), "the fork server outlived its grader"
    assert marks.read_text().splitlines() == [f"imported {server}"]
