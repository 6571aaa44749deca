"""A re-run of `grade --out` over grades it has stored: it grades nothing, loads nothing that
only grading or drawing needs, and leaves the output folder byte for byte as it was; a
changed submission or a changed reference is graded again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nngrade.config import METADATA_KEY
from nngrade.grader.authoring import skeleton
from nngrade.grader.cli import main

STEM = "01_scaling"
ITEM = "scaling.scale"
WRONG = "def scale(x, factor):\n    return x\n"

# Run in the child: `python -m nngrade ...` as a user runs it, then, at exit, the names of
# every module it imported, one a line, into the file given first.
RECORDING = """
import atexit, runpy, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
sys.argv[0] = "nngrade"
runpy.run_module("nngrade", run_name="__main__", alter_sys=True)
"""

# what only grading, a notebook, a page's template or a bar needs
NOT_NEEDED = ("numpy", "nbformat", "jsonschema", "jinja2", "tqdm", "matplotlib",
              "nngrade.grader.sandbox.runner", "nngrade.grader.grading.kernel",
              "nngrade.grader.grading.notebook")


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and the time it was last written."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _set_cell(path: Path, source: str) -> None:
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get(METADATA_KEY, {}).get("item") == ITEM:
            cell.source = source
    nbformat.write(nb, str(path))


def _grade(course: Path, folder: Path, out: Path, capsys: pytest.CaptureFixture) -> dict:
    capsys.readouterr()
    assert main(["grade", str(folder), "--course", str(course), "--out", str(out),
                 "--format", "json", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course outside the package (`nngrade new`), a class of three (full marks twice, one
    point lost once) graded once with --out; the folder holding course/, class/ and out/."""
    root = tmp_path_factory.mktemp("rerun")
    skeleton.write(root / "course", STEM)
    solved = root / "solved.ipynb"
    assert main(["solution", STEM, "--course", str(root / "course"), "-o", str(solved)]) == 0
    for i, student in enumerate(("ann", "bob", "cy")):
        nb = nbformat.read(str(solved), as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell(f"by {student}"))  # distinct files
        (root / "class" / student).mkdir(parents=True)
        nbformat.write(nb, str(root / "class" / student / f"{STEM}.ipynb"))
    _set_cell(root / "class" / "cy" / f"{STEM}.ipynb", WRONG)
    assert main(["grade", str(root / "class"), "--course", str(root / "course"), "--out",
                 str(root / "out"), "--format", "json", "--quiet"]) == 0
    return root


@pytest.fixture(scope="module")
def rerun(first: Path, tmp_path_factory: pytest.TempPathFactory):
    """The output folder before and after an unchanged re-run in a process of its own, what
    that process printed, and the modules it imported."""
    before = _files(first / "out")
    modules = tmp_path_factory.mktemp("modules") / "imported.txt"
    done = subprocess.run([sys.executable, "-c", RECORDING, str(modules), "grade",
                           str(first / "class"), "--course", str(first / "course"), "--out",
                           str(first / "out"), "--format", "json", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return before, _files(first / "out"), done.stdout, modules.read_text().splitlines()


def test_an_unchanged_rerun_leaves_every_output_file_as_the_first_run_wrote_it(first, rerun):
    before, after, printed, _ = rerun
    assert {"report.json", "gradebook.csv", "summary.md", "scores.png", "manual.md",
            f"feedback/cy-{STEM}.html", f"feedback/cy-{STEM}.md",
            f"gradescope/cy-{STEM}/results.json"} <= set(before)
    # the same bytes, and not even written again (a page is not rendered again)
    assert after == before
    assert json.loads(printed) == json.loads(before["report.json"][0])


def test_an_unchanged_rerun_imports_nothing_only_grading_or_drawing_needs(rerun):
    imported = set(rerun[3])
    assert "nngrade.grader.grading.batch" in imported  # the recording saw the command run
    assert [m for m in NOT_NEEDED if m in imported] == []


def test_a_changed_submission_is_graded_again_and_only_its_pages_change(first, tmp_path,
                                                                        capsys):
    for part in ("class", "out"):
        shutil.copytree(first / part, tmp_path / part)
    _grade(first / "course", tmp_path / "class", tmp_path / "out", capsys)  # at the new paths
    before = _files(tmp_path / "out")
    _set_cell(tmp_path / "class" / "cy" / f"{STEM}.ipynb",
              "def scale(x, factor):\n    return np.asarray(x, dtype=float) * factor\n")
    graded = _grade(first / "course", tmp_path / "class", tmp_path / "out", capsys)
    after = _files(tmp_path / "out")
    assert {s["student"]: s["score"] for s in graded["submissions"]} == {"ann": 1, "bob": 1,
                                                                         "cy": 1}
    changed = {name for name in after if after[name] != before.get(name)}
    stored = {name for name in changed if name.startswith("results/")}
    assert len(stored) == 1  # cy's new grade, stored beside the old one
    assert {f"feedback/cy-{STEM}.md", f"feedback/cy-{STEM}.html"} <= changed
    assert not any(f"ann-{STEM}" in name or f"bob-{STEM}" in name for name in changed)


def test_a_changed_reference_grades_every_submission_again(first, tmp_path, capsys):
    for part in ("course", "class", "out"):
        shutil.copytree(first / part, tmp_path / part)
    stored = set((tmp_path / "out" / "results").iterdir())
    solution = tmp_path / "course" / "reference" / skeleton.package_name(STEM) / "solution.py"
    solution.write_text(solution.read_text(encoding="utf-8") + "# reviewed\n",
                        encoding="utf-8")
    graded = _grade(tmp_path / "course", tmp_path / "class", tmp_path / "out", capsys)
    assert [s["score"] for s in graded["submissions"]] == [1, 1, 0]
    assert len(set((tmp_path / "out" / "results").iterdir()) - stored) == 3
