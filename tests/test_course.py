"""Courses outside the package, authoring, student releases, and checking with a release only.

End to end through the command line: a course authored with ``nngrade new`` in a temporary
folder (the README's walk-through, run as written), released, checked with the release in a
process where ``nngrade.reference`` cannot be imported, graded in a batch with its hidden
cases; the built-in course released and checked; every release scanned for solution lines and
hidden inputs.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from nngrade.config import METADATA_KEY
from nngrade.grader.cli import main
from nngrade.grader.grading import course as courses
from nngrade.grader.grading import public, release, solution, student_wheel

REPO = Path(__file__).resolve().parent.parent
STEM = "01_scaling"
CHEAP = ("03_weight_penalization", "05_edge_detection")

# A blocker for ``nngrade.reference``, as on a student's machine whose nngrade has no
# reference: installed as sitecustomize, so the grader, its fork server and every sandboxed
# child (they inherit PYTHONPATH) fail to import it.
BLOCKER = '''
import sys

class _NoReference:
    def find_spec(self, name, path=None, target=None):
        if name == "nngrade.reference" or name.startswith("nngrade.reference."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoReference())
'''


def _walkthrough() -> list[str]:
    """The commands of the README's "Write your own exercise" section, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Write your own exercise", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()
            if line.startswith("nngrade ")]


def _set_cell(path: Path, item: str, source: str) -> None:
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get(METADATA_KEY, {}).get("item") == item:
            cell.source = source
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A folder in which the README's walk-through was followed, command by command, and
    what the commands printed."""
    root = tmp_path_factory.mktemp("walkthrough")
    commands = _walkthrough()
    assert [c.split()[1] for c in commands] == ["new", "validate", "solution", "release",
                                                "check", "grade"]
    previous = os.getcwd()
    os.chdir(root)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            for command in commands:
                expected_exit = 1 if command.split()[1] == "check" else 0
                assert main(shlex.split(command)[1:]) == expected_exit, command
    finally:
        os.chdir(previous)
    return root, printed.getvalue()


@pytest.fixture(scope="module")
def walked(walkthrough: tuple[Path, str]) -> Path:
    return walkthrough[0]


def test_the_readme_walkthrough_authors_validates_releases_checks_and_grades(walkthrough):
    root, out = walkthrough
    assert f"ok   {STEM}: reference 1/1, blank 0/1, deterministic" in out
    assert "0 of 1 public checks pass; 1 hidden check runs when your instructor grades" in out
    assert re.search(rf"solved/alice/{STEM}.ipynb +{STEM} +1/1  full marks", out)
    assert (root / "mycourse-release" / release.MARKER).is_file()


def test_a_release_holds_no_solution_line_and_nothing_of_a_hidden_case(walked, builtin_release):
    for folder, course in ((walked / "mycourse-release", courses.from_folder(walked / "mycourse")),
                           (builtin_release, courses.builtin())):
        leaks = release_leaks(folder, course)
        assert leaks == [], leaks


def release_leaks(folder: Path, course: courses.Course) -> list[str]:
    """Every non-trivial line of every reference solution of the course, and every hidden
    case's description and inputs of the released exercises, found in a file of the release."""
    exercises = [course.load_exercise(n) for n in course.exercise_names()]
    # given to students on purpose: the blank notebooks' templates and the declaration's
    # public sentences (hints, what each comparison looks at)
    given = "\n".join(solution.blank_notebook_text(e) for e in exercises)
    given += "\n".join(text for e in exercises for i in e.items
                       for text in (i.hint, *(x.hint for x in i.expects),
                                    *(x.what for x in i.expects)))
    lines = {line.strip() for e in exercises for source in e.solution.values()
             for line in source.splitlines()}
    lines = {line for line in lines if len(line) >= 12 and not line.startswith(("#", "import ",
             "from ")) and line not in given and json.dumps(line)[1:-1] not in given
             and line not in SHARED_WITH_PROBES}
    released = {e.stem for e in exercises} & set(json.loads(
        (folder / release.MARKER).read_text())["exercises"])
    needles = set()
    for exercise in (e for e in exercises if e.stem in released):
        public_args = json.dumps([dict(c.args) for i in exercise.items for c in i.cases
                                  if not c.hidden])
        for case in (c for i in exercise.items for c in i.cases if c.hidden):
            needles |= {case.describe, json.dumps(dict(case.args)), repr(dict(case.args))}
            needles |= {json.dumps(v) for v in case.args.values()
                        if isinstance(v, (list, dict)) and len(v) >= 3
                        and json.dumps(v) not in public_args}
    found = []
    for name, text in _released_texts(folder):
        # the engine writes `nngrade new`'s skeleton from its templates, so every nngrade
        # carries that skeleton's answer: public by construction, in the wheel's engine only
        excused = SKELETON if name.startswith("dist/") else ""
        found += [f"{name}: solution line {line!r}" for line in lines
                  if line in text and line not in excused]
        found += [f"{name}: hidden case {n[:60]!r}" for n in needles
                  if n in text and n not in excused]
    return found


SKELETON = (REPO / "grader" / "authoring" / "skeleton.py").read_text(encoding="utf-8")


def _released_texts(folder: Path) -> list[tuple[str, str]]:
    """(name, text) of every file of a release, and of every member of its wheels (a zip's
    members are compressed: its bytes would hide them)."""
    texts = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                texts += [(f"{name}!{m}", wheel.read(m).decode("utf-8", errors="replace"))
                          for m in wheel.namelist()]
        else:
            texts.append((name, path.read_text(encoding="utf-8", errors="replace")))
    return texts


# Lines that the built-in probes and the solutions both hold, because probes need them too
# (reading a kernel's shape, walking a model's parameters): they say nothing of an answer.
SHARED_WITH_PROBES = {"kh, kw = kernel.shape", "h, w = image.shape",
                      "for name, p in model.named_parameters():"}


def test_the_leak_scan_finds_a_solution_line_and_a_hidden_input(walked, tmp_path):
    leaky = tmp_path / "leaky"
    shutil.copytree(walked / "mycourse-release", leaky)
    exercise = courses.from_folder(walked / "mycourse").load_exercise(STEM)
    hidden = next(c for i in exercise.items for c in i.cases if c.hidden)
    with open(leaky / "cases" / "scaling" / "cases.py", "a", encoding="utf-8") as cases:
        cases.write(f"\n{exercise.solution['scaling.scale']}\nHIDDEN = {dict(hidden.args)!r}\n")
    assert len(release_leaks(leaky, courses.from_folder(walked / "mycourse"))) >= 2


def test_the_leak_scan_finds_a_reference_file_planted_in_the_student_wheel(builtin_release,
                                                                          tmp_path):
    leaky = tmp_path / "leaky"
    shutil.copytree(builtin_release, leaky)
    wheel = leaky / "dist" / student_wheel.wheel_name()
    exercise = courses.builtin().load_exercise(CHEAP[1])
    package = Path(exercise.origin.reference) / exercise.cases_module.split(".")[-2]
    with zipfile.ZipFile(wheel, "a", zipfile.ZIP_DEFLATED) as zf:
        for name in ("solution.py", "checks.py"):
            zf.write(package / name, f"nngrade/reference/{package.name}/{name}")
    leaks = release_leaks(leaky, courses.builtin())
    assert any("solution line" in leak for leak in leaks), leaks
    assert any("hidden case" in leak for leak in leaks), leaks
    assert all(leak.startswith(f"dist/{wheel.name}!nngrade/reference/") for leak in leaks)


def _blocked_env(tmp_path: Path) -> dict[str, str]:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(blocker), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop(courses.ENV_COURSE, None)
    probe = subprocess.run([sys.executable, "-c", "import nngrade.reference"], env=env,
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "nngrade.reference" in probe.stderr
    return env


def test_a_student_machine_without_the_reference_checks_with_the_release_found_above(
        walked, tmp_path):
    student = tmp_path / "student"
    shutil.copytree(walked / "mycourse-release", student)
    notebook = student / "exercises" / f"{STEM}.ipynb"
    # right on the public case, wrong on the hidden one (a factor of zero)
    _set_cell(notebook, "scaling.scale", "def scale(x, factor):\n"
                                         "    return x * factor if factor else x\n")
    done = subprocess.run([sys.executable, "-m", "nngrade", "check", str(notebook), "--format",
                           "json"], env=_blocked_env(tmp_path), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["submissions"][0]
    assert (report["scope"], report["hidden_not_run"]) == ("public", 1)
    assert (report["public_checks"], report["public_passed"]) == (1, 1)
    assert [i["status"] for i in report["items"]] == ["passed", "manual"]


def test_the_instructors_batch_grade_runs_the_hidden_cases(walked, tmp_path, capsys):
    clones = tmp_path / "clones"
    for student, body in (("ann", "np.asarray(x, dtype=float) * factor"),
                          ("bob", "x * factor if factor else x")):
        (clones / student).mkdir(parents=True)
        shutil.copyfile(walked / "solved" / "alice" / f"{STEM}.ipynb",
                        clones / student / f"{STEM}.ipynb")
        _set_cell(clones / student / f"{STEM}.ipynb", "scaling.scale",
                  f"def scale(x, factor):\n    return {body}\n")
    capsys.readouterr()
    assert main(["grade", str(clones), "--course", str(walked / "mycourse"), "--format", "json",
                 "--quiet"]) == 0
    subs = {s["student"]: s for s in json.loads(capsys.readouterr().out)["submissions"]}
    assert subs["ann"]["score"] == subs["ann"]["max_score"] == 1
    bob = subs["bob"]["items"][0]
    assert subs["bob"]["scope"] == "full" and bob["status"] == "failed"
    assert bob["message"].startswith("on a hidden case (an empty vector, and a factor of zero)")


def test_a_submission_cannot_read_an_external_courses_solution(walked, tmp_path, monkeypatch):
    # the course readable by anyone, inside a folder the sandbox binds (the data folder):
    # only hiding keeps it out (pytest's own folders are private to their owner)
    with tempfile.TemporaryDirectory(prefix="nngrade-open-course-") as shared:
        os.chmod(shared, 0o755)
        course = Path(shared) / "mycourse"
        shutil.copytree(walked / "mycourse", course)
        monkeypatch.setenv("NNGRADE_DATA_DIR", shared)
        _check_cannot_read(course, tmp_path)


def _check_cannot_read(course: Path, tmp_path: Path) -> None:
    secret = course / "reference" / "scaling" / "solution.py"
    notebook = tmp_path / f"{STEM}.ipynb"
    shutil.copyfile(course / "exercises" / f"{STEM}.ipynb", notebook)
    _set_cell(notebook, "scaling.scale", (
        "try:\n"
        f"    leaked = open({str(secret)!r}).read()\n"
        "except OSError:\n"
        "    leaked = ''\n"
        "def scale(x, factor):\n"
        "    return np.asarray(x, dtype=float) * factor + len(leaked)\n"))
    assert main(["check", str(notebook), "--course", str(course)]) == 0


def test_a_course_is_found_from_the_environment_and_from_an_installed_package(
        walked, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(courses.ENV_COURSE, str(walked / "mycourse"))
    assert main(["solution", "01", "-o", str(tmp_path / "env.ipynb")]) == 0
    monkeypatch.delenv(courses.ENV_COURSE)
    # an installed course: a package holding exercises/ and reference/, and its entry point
    site = tmp_path / "site"
    shutil.copytree(walked / "mycourse", site / "mycourse_pkg")
    (site / "mycourse_pkg" / "__init__.py").write_text("")
    (site / "mycourse_pkg" / "reference" / "__init__.py").write_text("")
    info = site / "mycourse_pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mycourse-pkg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[nngrade.courses]\nmine = mycourse_pkg\n")
    monkeypatch.syspath_prepend(str(site))
    course = courses.select("mine")
    assert course.private == (str(site / "mycourse_pkg" / "reference"),)
    assert main(["solution", "01", "--course", "mine", "-o", str(tmp_path / "ep.ipynb")]) == 0
    for path in (tmp_path / "env.ipynb", tmp_path / "ep.ipynb"):
        assert "np.asarray(x, dtype=float) * factor" in path.read_text()
    assert main(["solution", "01", "--course", str(tmp_path / "nowhere"), "-o",
                 str(tmp_path / "no.ipynb")]) == 2
    assert "no course" in capsys.readouterr().err


def test_a_release_is_found_in_a_folder_above_or_right_beside_the_notebook(tmp_path):
    rel = tmp_path / "course-release"
    (rel / "exercises").mkdir(parents=True)
    (rel / release.MARKER).write_text("{}")
    assert public.find_release(rel / "exercises" / "x.ipynb") == rel
    assert public.find_release(tmp_path / "x.ipynb") == rel
    (tmp_path / "elsewhere").mkdir()
    assert public.find_release(tmp_path / "elsewhere" / "x.ipynb") is None


@pytest.fixture(scope="module")
def builtin_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in course's release of its two cheap exercises."""
    out = tmp_path_factory.mktemp("builtin") / "student"
    assert main(["release", *CHEAP, "-o", str(out)]) == 0
    return out


def test_the_builtin_release_checks_the_reference_notebook_on_every_public_check(
        builtin_release, tmp_path, capsys):
    # in this process (a fresh one without the reference is the skeleton course's test, above:
    # the built-in's torch start-up would cost half a minute); nothing released names it
    # (but for the student wheel's engine, which names the package it looks for)
    for path in (p for p in builtin_release.rglob("*") if p.is_file()):
        if "dist" not in path.relative_to(builtin_release).parts:
            assert "nngrade.reference" not in path.read_text(errors="replace"), path
    exercise = courses.builtin().load_exercise(CHEAP[1])
    notebook = tmp_path / f"{exercise.stem}.ipynb"
    solution.write_solution(exercise, notebook)
    capsys.readouterr()
    assert main(["check", str(notebook), "--release", str(builtin_release),
                 "--no-execute"]) == 0
    out = capsys.readouterr().out
    automatic = [i for i in exercise.items if not i.manual]
    shown = sum(not c.hidden for i in automatic for c in i.cases)
    hidden = sum(release.hidden_checks(i) for i in automatic)
    assert (f"{shown} of {shown} public checks pass; {hidden} hidden checks run when your "
            "instructor grades") in out
    # never a bare score that reads as the grade
    assert "Points on the public checks" in out and not re.search(r"Points \d", out)
    assert sorted(p.name for p in (builtin_release / "exercises").iterdir()) == \
        [f"{stem}.ipynb" for stem in CHEAP]


def test_the_classroom_workflow_checks_a_release_repository_with_its_public_checks(
        walked, tmp_path, monkeypatch, capsys):
    workflow = (REPO / "examples" / "ci" / "classroom.yml").read_text(encoding="utf-8")
    command = re.search(r"run: (nngrade check .*)", workflow).group(1)
    notebook = re.search(r"NOTEBOOK: (\S+)", workflow).group(1)
    repository = tmp_path / "repository"  # the assignment's repository: a release
    shutil.copytree(walked / "mycourse-release", repository)
    # it installs the release's student wheel, with the release's constraints
    install = re.search(r"pip install (.*)", workflow).group(1).split()
    assert "constraints.txt" in install and (repository / "constraints.txt").is_file()
    wheels = [w for w in install if w.endswith(".whl")]
    assert len(wheels) == 1 and len(list(repository.glob(wheels[0]))) == 1
    _set_cell(repository / notebook, "scaling.scale",
              "def scale(x, factor):\n    return np.asarray(x, dtype=float) * factor\n")
    monkeypatch.chdir(repository)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github_output"))
    args = shlex.split(command.replace('"$NOTEBOOK"', notebook))[1:]
    assert main(args) == 0
    assert "1 of 1 public checks pass; 1 hidden check runs" in capsys.readouterr().out
    result = (tmp_path / "github_output").read_text().strip()
    payload = json.loads(base64.b64decode(result.split("=", 1)[1]))
    assert [(t["name"], t["score"]) for t in payload["tests"]] == [("scaling.scale", 1.0)]


def test_the_gradescope_bundle_of_a_course_grades_with_its_hidden_cases(walked, tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert main(["export", "gradescope", "--course", str(walked / "mycourse"), "-o",
                 str(bundle)]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root)
    assert (root / "source" / "course" / "reference" / "scaling" / "checks.py").is_file()
    (root / "submission").mkdir()
    submitted = root / "submission" / "homework.ipynb"
    shutil.copyfile(walked / "solved" / "alice" / f"{STEM}.ipynb", submitted)
    _set_cell(submitted, "scaling.scale", "def scale(x, factor):\n"
                                          "    return x * factor if factor else x\n")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    env.pop("PYTHONPATH", None)
    env.pop(courses.ENV_COURSE, None)
    subprocess.run(["bash", str(root / "run_autograder")], env=env, check=True, timeout=600,
                   capture_output=True)
    results = json.loads((root / "results" / "results.json").read_text())
    test = results["tests"][0]
    assert (test["name"], test["status"], results["score"]) == ("scaling.scale", "failed", 0)
    assert "hidden case" in test["output"]


def test_nngrade_check_from_python_uses_the_release_where_the_reference_is_missing(
        walked, tmp_path):
    student = tmp_path / "student"
    shutil.copytree(walked / "mycourse-release", student)
    notebook = student / "exercises" / f"{STEM}.ipynb"
    _set_cell(notebook, "scaling.scale",
              "def scale(x, factor):\n    return np.asarray(x, dtype=float) * factor\n")
    code = f"import nngrade; nngrade.check(path={str(notebook)!r})"
    done = subprocess.run([sys.executable, "-c", code], env=_blocked_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "1 of 1 public checks pass; 1 hidden check runs when your instructor grades" in \
        done.stdout, done.stdout


def test_a_student_with_only_the_wheel_checks_the_builtin_release(builtin_release, tmp_path):
    # the wheel installed alone (no dependencies: this venv's libraries stand for them), in a
    # Python without site (-S): no .pth runs, so the editable install of this repository is
    # not seen; the fork server and the sandbox's children inherit the same flag and path
    student = tmp_path / "student"
    shutil.copytree(builtin_release, student, ignore=shutil.ignore_patterns("dist"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--target", str(target),
                    str(builtin_release / "dist" / student_wheel.wheel_name())],
                   check=True, capture_output=True, timeout=120)
    libraries = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), *libraries])}
    env.pop(courses.ENV_COURSE, None)
    probe = subprocess.run([sys.executable, "-S", "-c", "import nngrade; print(nngrade.__file__); "
                            "import nngrade.reference"], env=env, cwd=student,
                           capture_output=True, text=True, timeout=60)
    assert Path(probe.stdout.strip()).is_relative_to(target), probe.stdout
    assert "No module named 'nngrade.reference'" in probe.stderr, probe.stderr
    exercise = courses.builtin().load_exercise(CHEAP[1])
    solution.write_solution(exercise, student / "exercises" / f"{exercise.stem}.ipynb")
    done = subprocess.run([sys.executable, "-S", "-m", "nngrade", "check",
                           f"exercises/{exercise.stem}.ipynb", "--no-execute"], env=env,
                          cwd=student, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    automatic = [i for i in exercise.items if not i.manual]
    shown = sum(not c.hidden for i in automatic for c in i.cases)
    hidden = sum(release.hidden_checks(i) for i in automatic)
    assert (f"{shown} of {shown} public checks pass; {hidden} hidden checks run when your "
            "instructor grades") in done.stdout, done.stdout
    # written again from that normal (not editable) install: the very same wheel
    again = subprocess.run([sys.executable, "-S", "-c", "from nngrade.grader.grading import "
                            f"student_wheel; print(student_wheel.write({str(tmp_path)!r}))"],
                           env=env, cwd=student, capture_output=True, text=True, timeout=60)
    assert Path(again.stdout.strip()).read_bytes() == \
        (builtin_release / "dist" / student_wheel.wheel_name()).read_bytes(), again.stderr


def test_the_release_readme_gives_the_one_line_that_installs_its_wheel(builtin_release):
    readme = (builtin_release / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^    (python3 -m pip install .*)$", readme, re.M).group(1)
    words = shlex.split(line)
    assert words[words.index("-c") + 1] == "constraints.txt"
    wheel = words[-1].removesuffix("[student]")
    assert (builtin_release / wheel).is_file() and words[-1].endswith("[student]")
    assert (builtin_release / "constraints.txt").read_text() == \
        (REPO / "constraints.txt").read_text()
    for command in re.findall(r"^    ((?:jupyter lab|nngrade check) (\S+)/.*)$", readme, re.M):
        assert (builtin_release / command[1]).is_dir(), command[0]
    # the project's README gives students the same line
    students = (REPO / "README.md").read_text(encoding="utf-8").split("## For students", 1)[1]
    assert line in students.split("\n## ", 1)[0]


def test_a_batch_names_the_student_by_the_folder_of_a_notebook_of_the_graded_course(
        walked, capsys):
    notebook = walked / "solved" / "alice" / f"{STEM}.ipynb"
    capsys.readouterr()
    assert main(["grade", str(notebook), "--course", str(walked / "mycourse"), "--format",
                 "json", "--quiet"]) == 0
    [graded] = json.loads(capsys.readouterr().out)["submissions"]
    assert (graded["student"], graded["score"]) == ("alice", 1)
