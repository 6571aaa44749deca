"""A student who wants points, against the sandbox's isolation: every attack is performed for
real, through ``nngrade grade``, from graded cells and from an extra cell that runs in the
notebook's own kernel. Each attack costs the attacking item only, and nothing of the
reference, the grader's environment or its home folder reaches any report or feedback.

Each cell raises what it found, so the finding is in the report for the test to read."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

import nngrade.reference
from nngrade.grader.cli import main
from nngrade.grader.grading import solution
from nngrade.reference import load_exercise

from grading import notebook_with

VANISHING = load_exercise("04")
INSURANCE = load_exercise("01")
REFERENCE = os.path.dirname(os.path.abspath(nngrade.reference.__file__))
SOLUTION = os.path.join(REFERENCE, "vanishing", "solution.py")
SOLUTION_LINE = 'def gradient_ratio_bound(L):'  # a line of the reference that must never leak
SECRET = os.environ["NNGRADE_TEST_SECRET"]  # in the grader's environment since start-up
GRADER = os.getpid()


def _reveal(body: str) -> str:
    """A cell that runs ``body`` (which fills ``found``) and raises what it found."""
    return f"import os, glob\nfound = []\n{body}\nraise RuntimeError('found ' + repr(found))\n"


READ_REFERENCE = _reveal(f"""
for entry in os.listdir('/proc'):
    for way in ('root', 'cwd'):
        try:
            found.append(open(f'/proc/{{entry}}/{{way}}{SOLUTION}').read()[:60])
        except OSError:
            pass
for path in ({SOLUTION!r}, '/proc/{GRADER}/root{SOLUTION}'):
    try:
        found.append(open(path).read()[:60])
    except OSError:
        pass
""")
# every environment it can name (its own and, were they visible, other processes')
READ_ENVIRONMENT = _reveal("""
found += [v for k, v in os.environ.items() if 'SECRET' in k]
for entry in os.listdir('/proc'):
    try:
        text = open(f'/proc/{entry}/environ', 'rb').read().decode(errors='replace')
    except OSError:
        continue
    found += [v for v in text.split('\\0') if 'SECRET' in v]
""")


def _read_file(path: str) -> str:
    return _reveal(f"""
try:
    found.append(open({path!r}).read())
except OSError as exc:
    found.append(type(exc).__name__)
""")


def _grade(paths: list[Path], capsys, *extra: str) -> dict:
    code = main(["grade", *map(str, paths), "--format", "json", "--quiet", "--timeout", "30",
                 *extra])
    out = capsys.readouterr().out
    assert code == 0
    assert SECRET not in out and SOLUTION_LINE not in out
    return json.loads(out)


@pytest.fixture
def home_secret():
    """A 0600 file in the grading user's home folder, removed afterwards."""
    path = Path(os.path.expanduser("~")) / f".nngrade-test-secret-{os.getpid()}"
    path.write_text(SECRET)
    path.chmod(0o600)
    yield path
    path.unlink()


def test_cells_cannot_read_the_reference_the_environment_home_files_or_memory_or_write_out(
        tmp_path, capsys, home_secret):
    marker = Path("/tmp") / f"nngrade-planted-{os.getpid()}"
    attacks = {
        "vanishing.sigmoid": READ_REFERENCE,
        "vanishing.max_sigmoid_prime": READ_ENVIRONMENT,
        "vanishing.backward": _read_file(str(home_secret)),
        "vanishing.history": _reveal(f"""
for target in ('/proc/{GRADER}/mem', '/proc/1/root/proc/{GRADER}/mem'):
    try:
        found.append(len(open(target, 'rb').read(1)))
    except OSError as exc:
        found.append(type(exc).__name__)
"""),
        "vanishing.bound": _reveal(f"""
for target in ({str(marker)!r}, '/proc/1/root{marker}', '/proc/{GRADER}/root{marker}'):
    try:
        open(target, 'w').write('x')
        found.append('written')
    except OSError as exc:
        found.append(type(exc).__name__)
"""),
    }
    nb = notebook_with(VANISHING, attacks, rest="blank")
    # the same attacks from the notebook's own kernel, in a cell of its own
    for body in (READ_REFERENCE, READ_ENVIRONMENT, _read_file(str(home_secret))):
        nb.cells.append(nbformat.v4.new_code_cell(body))
    path = tmp_path / "mallory" / f"{VANISHING.stem}.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, str(path))
    # exercise 04's grade needs no run of the whole notebook: ask for one, for the kernel
    report = _grade([path], capsys, "--out", str(tmp_path / "out"), "--execute")
    sub = report["submissions"][0]
    items = {i["id"]: i for i in sub["items"]}
    for item_id in attacks:
        assert items[item_id]["score"] == 0 and items[item_id]["status"] == "error"
    assert "found []" in items["vanishing.sigmoid"]["message"]
    assert "found []" in items["vanishing.max_sigmoid_prime"]["message"]
    assert "FileNotFoundError" in items["vanishing.backward"]["message"]
    assert "found ['FileNotFoundError', 'FileNotFoundError']" in items["vanishing.history"]["message"]
    # /tmp and /proc/1/root/tmp are the sandbox's own scratch: writable, and gone after it
    assert "found ['written', 'written', 'FileNotFoundError']" in items["vanishing.bound"]["message"]
    assert not marker.exists()
    assert (tmp_path / "out" / "executed" / f"mallory-{VANISHING.stem}.ipynb").is_file()
    kernel_errors = sub["cell_errors"][-3:]
    assert "found []" in kernel_errors[0] and "found []" in kernel_errors[1], kernel_errors
    assert "FileNotFoundError" in kernel_errors[2]
    for page in (tmp_path / "out").rglob("*"):
        if page.is_file() and page.suffix in (".md", ".html", ".json", ".csv", ".ipynb"):
            text = page.read_text(errors="replace")
            assert SECRET not in text and SOLUTION_LINE not in text, page


FORGED = """
import json, os, struct
model = nn.Sequential(nn.Linear(1, 1))
claim = {"status": "ok", "observation": {"output_shape": [401, 1], "single_output_shape": [1, 1],
         "hidden_layers": 1, "depends_on_input": True, "nonlinear": True}, "protections": []}
data = json.dumps(claim).encode()
for fd in range(3, 64):
    try:
        os.write(fd, struct.pack("!i", len(data)) + data)
    except OSError:
        pass
os._exit(0)
"""

MISLED = """
import numpy as np
model = nn.Sequential(nn.Linear(1, 16), nn.Linear(16, 4), nn.Linear(4, 1))
np.linalg.lstsq = lambda a, b, rcond=None: (np.zeros(a.shape[1]), None, None, None)
"""


@pytest.mark.parametrize("answer, words", [(FORGED, "refused"), (MISLED, "non-linear")],
                         ids=["forged-result", "patched-numpy"])
def test_a_cell_cannot_speak_for_the_probe_or_mislead_it(tmp_path, capsys, answer, words):
    nb = notebook_with(INSURANCE, {"insurance.model": answer}, rest="blank")
    path = tmp_path / "mallory" / f"{INSURANCE.stem}.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, str(path))
    sub = _grade([path], capsys)["submissions"][0]
    item = {i["id"]: i for i in sub["items"]}["insurance.model"]
    assert item["score"] == 0, item
    assert words in item["message"], item["message"]


KERNEL_HUNT = _reveal("""
import time
deadline = time.monotonic() + 12
while not found and time.monotonic() < deadline:
    for pattern in ('/tmp/**/connection.json', '/tmp/**/kernel*.json', '/tmp/**/kernel-*',
                    os.path.expanduser('~') + '/.local/share/jupyter/runtime/*',
                    '/proc/*/cwd/connection.json', '/proc/*/root/tmp/**/connection.json'):
        found += glob.glob(pattern, recursive=True)
    time.sleep(0.5)
""")


def test_one_students_cell_cannot_reach_another_students_kernel(tmp_path, capsys):
    victim = tmp_path / "alice" / f"{INSURANCE.stem}.ipynb"
    victim.parent.mkdir()
    shutil.copyfile(Path(__file__).parent.parent / "examples" / "class01" / "alice" / victim.name,
                    victim)
    attacker = tmp_path / "mallory" / f"{VANISHING.stem}.ipynb"
    attacker.parent.mkdir()
    nb = notebook_with(VANISHING, {"vanishing.max_sigmoid_prime": KERNEL_HUNT}, rest="blank")
    nbformat.write(nb, str(attacker))
    report = _grade([victim, attacker], capsys, "--jobs", "2")
    alice, mallory = report["submissions"]
    assert alice["score"] == alice["max_score"] == INSURANCE.max_score  # graded as without
    item = {i["id"]: i for i in mallory["items"]}["vanishing.max_sigmoid_prime"]
    assert item["score"] == 0 and "found []" in item["message"], item["message"]


# run in a notebook's own kernel: the kernel started ahead for the next submission is up
# (or starting) by now; its connection file and sockets are what a thief would need
SPARE_HUNT = _reveal("""
import time
# in the kernel, its own folder (/tmp/nngrade-kernel-*/, its connection file beside it); in
# a graded cell's sandbox, nothing is its own
mine = os.path.dirname(os.getcwd()) if os.path.exists('connection.json') else '//none'
deadline = time.monotonic() + 1.5
while not found and time.monotonic() < deadline:
    for pattern in ('/tmp/*/connection.json', '/tmp/*/*/connection.json', '/tmp/nngrade-kernel-*',
                    '/proc/*/cwd/connection.json', '/proc/*/root/tmp/nngrade-kernel-*'):
        found += [p for p in glob.glob(pattern) if not os.path.realpath(p).startswith(mine)]
    time.sleep(0.5)
""")


def test_a_notebook_cannot_reach_the_kernel_started_ahead_for_the_next_student(tmp_path, capsys):
    edges = load_exercise("05")
    attacker = tmp_path / "a-mallory" / f"{edges.stem}.ipynb"
    victim = tmp_path / "b-alice" / f"{edges.stem}.ipynb"
    for path in (attacker, victim):
        path.parent.mkdir()
    # from a graded cell (its sandbox runs while the spare is up) and from the kernel
    nb = notebook_with(edges, {"edges.convolve2d": SPARE_HUNT}, rest="reference")
    nb.cells.append(nbformat.v4.new_code_cell(SPARE_HUNT))
    nbformat.write(nb, str(attacker))
    solution.write_solution(edges, victim)
    # --jobs 1 on a machine of more cores: the victim's kernel starts during the attacker's run
    assert (os.cpu_count() or 1) > 1
    mallory, alice = _grade([tmp_path], capsys, "--jobs", "1", "--execute")["submissions"]
    assert "found []" in mallory["cell_errors"][-1], mallory["cell_errors"]
    graded = {i["id"]: i for i in mallory["items"]}["edges.convolve2d"]
    assert graded["score"] == 0 and "found []" in graded["message"], graded["message"]
    assert alice["score"] == alice["max_score"] and not alice["cell_errors"]


def test_the_sample_reference_is_still_graded_full_marks_in_the_new_sandbox(tmp_path, capsys):
    path = tmp_path / "ref" / f"{VANISHING.stem}.ipynb"
    solution.write_solution(VANISHING, path)
    sub = _grade([path], capsys)["submissions"][0]
    assert sub["score"] == sub["max_score"] and not sub["cell_errors"]


def test_a_cell_that_catches_the_clock_to_answer_late_loses_its_item(tmp_path, capsys):
    # the item's cases share one sandbox and each has its own clock, an exception in the
    # cell: catching it to finish anyway (here: with a right answer) buys nothing
    late = ("import time\n"
            "try:\n"
            "    time.sleep(60)\n"
            "except BaseException:\n"
            "    pass\n" + VANISHING.solution["vanishing.sigmoid"])
    nb = notebook_with(VANISHING, {"vanishing.sigmoid": late}, rest="blank")
    path = tmp_path / "late" / f"{VANISHING.stem}.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, str(path))
    sub = _grade([path], capsys, "--timeout", "2")["submissions"][0]
    item = {i["id"]: i for i in sub["items"]}["vanishing.sigmoid"]
    assert item["score"] == 0 and item["status"] == "error", item
    assert "ran past its 2 s limit" in item["message"]


def test_a_notebook_saved_in_the_temporary_folder_itself_is_graded_and_sees_no_neighbour(
        tmp_path, capsys, monkeypatch):
    # The notebook's folder is hidden from its cells, and here it is the folder every
    # sandbox's working folder and every kernel's folder are made in (a student who saves
    # to /tmp): grading must still build each sandbox, and the cells still see nothing of
    # what else lies in that folder.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    neighbour = tmp_path / "bob-answers.txt"
    neighbour.write_text(SECRET)
    nb = notebook_with(VANISHING, {"vanishing.bound": _read_file(str(neighbour))})
    nb.cells.append(nbformat.v4.new_code_cell(_read_file(str(neighbour))))
    path = tmp_path / f"{VANISHING.stem}.ipynb"
    nbformat.write(nb, str(path))
    sub = _grade([path], capsys, "--execute")["submissions"][0]
    items = {i["id"]: i for i in sub["items"]}
    assert "found ['FileNotFoundError']" in items["vanishing.bound"]["message"]
    assert sub["score"] == sub["max_score"] - items["vanishing.bound"]["max_score"]
    assert "found ['FileNotFoundError']" in sub["cell_errors"][-1], sub["cell_errors"]


@pytest.mark.parametrize("how", ["python -m nngrade", "a script in the folder"])
def test_the_folder_the_grader_runs_from_is_not_readable(tmp_path, how):
    # ``python -m nngrade`` puts the current folder first on the import path, and a script
    # its own folder: an instructor's course folder (solutions, grades) is neither code nor
    # anything a cell may read
    course = tmp_path / "course"
    (course / "subs" / "s1").mkdir(parents=True)
    solutions = course / "solutions.txt"
    solutions.write_text(SECRET)
    nb = notebook_with(VANISHING, {"vanishing.bound": _read_file(str(solutions))}, rest="blank")
    nb.cells.append(nbformat.v4.new_code_cell(_read_file(str(solutions))))  # in the kernel
    nbformat.write(nb, str(course / "subs" / "s1" / f"{VANISHING.stem}.ipynb"))
    (course / "grade.py").write_text("from nngrade.grader.cli import main\n"
                                     "raise SystemExit(main())\n")
    start = ["-m", "nngrade"] if how.startswith("python -m") else ["grade.py"]
    done = subprocess.run([sys.executable, *start, "grade", "subs", "--format", "json",
                           "--quiet", "--timeout", "30", "--execute"], cwd=course,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert SECRET not in done.stdout + done.stderr
    sub = json.loads(done.stdout)["submissions"][0]
    item = {i["id"]: i for i in sub["items"]}
    assert "found ['FileNotFoundError']" in item["vanishing.bound"]["message"], item
    assert "found ['FileNotFoundError']" in sub["cell_errors"][-1], sub["cell_errors"]


def test_a_cell_cannot_start_another_program_or_leave_its_namespaces(tmp_path, capsys):
    # what the system-call filter alone refuses to a process with no privilege: running a
    # program, and a user namespace of its own (where it would be root again)
    attempt = _reveal("""
import ctypes, subprocess
try:
    found.append(subprocess.run(['id', '-u'], capture_output=True, text=True).stdout.strip())
except OSError as exc:
    found.append(type(exc).__name__)
libc = ctypes.CDLL(None, use_errno=True)
found.append(libc.unshare(0x10000000) == 0 or ctypes.get_errno())
""")
    nb = notebook_with(VANISHING, {"vanishing.bound": attempt})
    nb.cells.append(nbformat.v4.new_code_cell(attempt))  # in the notebook's kernel
    path = tmp_path / f"{VANISHING.stem}.ipynb"
    nbformat.write(nb, str(path))
    sub = _grade([path], capsys, "--execute")["submissions"][0]
    items = {i["id"]: i for i in sub["items"]}
    refused = "found ['PermissionError', 1]"  # EPERM for both
    assert refused in items["vanishing.bound"]["message"], items["vanishing.bound"]
    assert refused in sub["cell_errors"][-1], sub["cell_errors"]
    assert sub["score"] == sub["max_score"] - items["vanishing.bound"]["max_score"]
