"""A fork server kept warm between commands (``--keep-warm``): shared by the commands that
would have started the same one, ended when unused, and out of student code's reach."""

from __future__ import annotations

import glob
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from nngrade.grader.grading import solution
from nngrade.grader.sandbox import resident
from nngrade.reference import load_exercise

from grading import notebook_with

VANISHING = load_exercise("04")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _nngrade(args: list[str], runtime: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, resident.ENV_RUNTIME_DIR: str(runtime)}
    env.pop(resident.ENV_KEEP_WARM, None)
    return subprocess.run([sys.executable, "-m", "nngrade", *args], capture_output=True,
                          text=True, timeout=300, env=env)


def _stamps(runtime: Path) -> list[list]:
    return [json.loads(Path(p).read_text()) for p in glob.glob(f"{runtime}/*/*.json")]


def test_the_next_command_forks_from_the_kept_server_which_ends_when_unused(tmp_path):
    notebook = tmp_path / "ref" / f"{VANISHING.stem}.ipynb"
    solution.write_solution(VANISHING, notebook)
    runtime = tmp_path / "run"
    runtime.mkdir()
    first = _nngrade(["check", str(notebook), "--no-execute", "--keep-warm", "4"], runtime)
    assert first.returncode == 0, first.stdout + first.stderr
    [(keeper, address, server)] = _stamps(runtime)
    second = _nngrade(["check", str(notebook), "--no-execute", "--keep-warm", "4"], runtime)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _stamps(runtime) == [[keeper, address, server]]  # the same server, no other
    assert _alive(keeper) and _alive(server)
    # another environment is another server: its children's allow-list is read from it
    env_changed = {**os.environ, resident.ENV_RUNTIME_DIR: str(runtime), "LANG": "C.UTF-8x"}
    third = subprocess.run([sys.executable, "-m", "nngrade", "check", str(notebook),
                            "--no-execute", "--keep-warm", "4"], capture_output=True, text=True,
                           timeout=300, env=env_changed)
    assert third.returncode == 0, third.stdout + third.stderr
    assert len(_stamps(runtime)) == 2
    deadline = time.monotonic() + 30
    while (_alive(keeper) or _alive(server) or _stamps(runtime)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(keeper) and not _alive(server) and _stamps(runtime) == []
    assert not os.path.exists(address)


def test_a_runtime_folder_others_could_write_is_refused_and_grading_goes_on(tmp_path):
    runtime = tmp_path / "run"
    (runtime / f"nngrade-warm-{os.getuid()}").mkdir(parents=True)
    (runtime / f"nngrade-warm-{os.getuid()}").chmod(0o777)
    previous = os.environ.get(resident.ENV_RUNTIME_DIR)
    os.environ[resident.ENV_RUNTIME_DIR] = str(runtime)
    try:
        with pytest.raises(OSError, match="not a private folder"):
            resident.folder()
    finally:
        if previous is None:
            os.environ.pop(resident.ENV_RUNTIME_DIR)
        else:
            os.environ[resident.ENV_RUNTIME_DIR] = previous
    notebook = tmp_path / "ref" / f"{VANISHING.stem}.ipynb"
    solution.write_solution(VANISHING, notebook)
    done = _nngrade(["check", str(notebook), "--no-execute", "--keep-warm", "4"], runtime)
    assert done.returncode == 0, done.stdout + done.stderr  # its own fork server instead
    assert _stamps(runtime) == []


# where a kept server's address and socket are: its keeper's folder and multiprocessing's
HUNT = """
import glob, os, socket
found = []
for pattern in ({runtime!r} + '/*/*', '/tmp/pymp-*/*', '/tmp/nngrade-warm-*/*'):
    for path in glob.glob(pattern):
        found.append(path)
        if {connect!r}:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(path)
                    found.append('connected')
            except OSError:
                pass
raise RuntimeError('found ' + repr(found))
"""


def test_student_code_cannot_find_or_reach_the_kept_server(tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir()
    hunt = HUNT.format(runtime=str(runtime), connect=True)
    nb = notebook_with(VANISHING, {"vanishing.bound": hunt})
    nb.cells.append(nbformat.v4.new_code_cell(hunt))
    path = tmp_path / "class" / "mallory" / f"{VANISHING.stem}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, str(path))
    done = _nngrade(["grade", str(tmp_path / "class"), "--execute", "--keep-warm", "30",
                     "--format", "json", "--quiet"], runtime)
    assert done.returncode == 0, done.stderr
    [(keeper, address, server)] = _stamps(runtime)
    try:
        sub = json.loads(done.stdout)["submissions"][0]
        items = {i["id"]: i for i in sub["items"]}
        assert "found []" in items["vanishing.bound"]["message"], items["vanishing.bound"]
        assert "found []" in sub["cell_errors"][-1], sub["cell_errors"]
        # the same hunt outside the sandbox finds the keeper's address and the server's
        # socket (looked at, not connected to: a connection without a request ends a server)
        with pytest.raises(RuntimeError) as caught:
            exec(HUNT.format(runtime=str(runtime), connect=False), {})
        assert address in str(caught.value) and str(runtime) in str(caught.value)
    finally:
        os.kill(keeper, 9)


def test_what_a_shell_sets_for_each_command_does_not_start_another_server(monkeypatch):
    base = resident.key(["numpy"])
    for name, value in (("_", "/usr/bin/python3"), ("PWD", "/elsewhere"), ("OLDPWD", "/x"),
                        ("SHLVL", "7"), (resident.ENV_KEEP_WARM, "5")):
        monkeypatch.setenv(name, value)
    assert resident.key(["numpy"]) == base
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # read by libraries as they are imported
    assert resident.key(["numpy"]) != base
    assert resident.key(["numpy", "torch"]) != resident.key(["numpy"])


def test_a_stamp_whose_keeper_is_gone_is_not_read_even_if_its_pid_was_taken(tmp_path):
    # a keeper killed, its pid taken by another process that looks like a keeper (another
    # exercise's): the address it left must not be used
    address = tmp_path / "listener"
    address.touch()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                              "-m", "nngrade.grader.sandbox.resident", str(tmp_path / "b.json")])
    try:
        deadline = time.monotonic() + 10  # its arguments are in place once exec is done
        while not Path(f"/proc/{other.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        stamp = tmp_path / "a.json"
        stamp.write_text(json.dumps([other.pid, str(address), other.pid]))
        assert resident._read(stamp) is None
        stamp_of_other = tmp_path / "b.json"
        stamp_of_other.write_text(json.dumps([other.pid, str(address), other.pid]))
        assert resident._read(stamp_of_other) == str(address)
    finally:
        other.kill()
        other.wait()


def test_a_stopped_keeper_removes_its_stamp_and_its_server_ends(tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir()
    notebook = tmp_path / "ref" / f"{VANISHING.stem}.ipynb"
    solution.write_solution(VANISHING, notebook)
    done = _nngrade(["check", str(notebook), "--no-execute", "--keep-warm", "60"], runtime)
    assert done.returncode == 0, done.stdout + done.stderr
    [(keeper, address, server)] = _stamps(runtime)
    os.kill(keeper, 15)
    deadline = time.monotonic() + 30
    while (_alive(keeper) or _alive(server)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(keeper) and not _alive(server)
    assert _stamps(runtime) == [] and not os.path.exists(address)
