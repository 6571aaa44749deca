"""nngrade and nbgrader 0.9.6 side by side: the same class, the same checks, in one run.

From the reference of one exercise (02-05), builds an nbgrader course in a temporary folder:
the source notebook is the blank student notebook with every graded item cell made an
nbgrader solution cell (the reference's source between ``### BEGIN SOLUTION`` and
``### END SOLUTION``) followed by an autograder cell whose hidden tests do what nngrade does
for that item: every case (public and hidden) builds the same inputs with the exercise's
``cases`` module, runs the student's cell on them, probes the result with the same probe and
compares it with the reference's observation (nngrade's own, embedded at build time) by the
same rules and tolerances (``compare.check``). Only the sandbox is left out: nbgrader runs
each case in a plain fork of the notebook's kernel.

Then it releases the assignment (``nbgrader generate_assignment``), writes a class of
submissions from the released notebook (the reference, correct variants, typical mistakes,
blank cells), grades them with ``nbgrader autograde`` and with ``nngrade grade`` (``--jobs 1``,
``--jobs 2``, and ``--execute`` with each when the installed nngrade has that option), checks
that every item of every submission gets the same points from both, and prints seconds per
notebook (a class's wall time, start-up included, over its size; medians of ``--repeats``
runs) and the ratios. Both graders run with the same backend (MPLBACKEND=Agg, one OpenMP
thread), as nngrade gives its kernel, and both start with the reference's observations at
hand (nbgrader's in its tests, nngrade's in its warm cache). The exit status is 1 when some
item got different points from the two (each such item is printed).

Needs the ``bench`` extra: ``pip install -c constraints.txt -e '.[bench]'``.
Run: ``python benchmarks/nbgrader_side_by_side.py --exercise 04 --students 10 --repeats 3``.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import dataclasses
import inspect
import io
import json
import keyword
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from nngrade.config import ENV_CACHE_DIR, METADATA_KEY
from nngrade.grader.grading import solution
from nngrade.grader.sandbox import wire
from nngrade.grader.spec import Exercise, Item
from nngrade.reference import load_exercise

ASSIGNMENT = "ps"
SAME_BACKEND = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
BENCH_EXERCISES = ("02", "03", "04", "05")

# --- the nbgrader course ---------------------------------------------------------------------

# The hidden tests of one item. ``_source`` is the solution cell just above as the student
# wrote it (IPython's raw input history): nngrade runs exactly that text on its own inputs, so
# a mistake in another item does not cost this one. The cases run in forked copies of the
# kernel, as nngrade's runs are fresh forks (a probe may count what the cell does in module
# state; a cell may patch a library): one per case, or one per item when the installed nngrade
# runs an item's cases in one process. Their prints are kept out of the notebook
# (nbgrader takes any stderr output of a test cell as a failure). The steps and their order
# are those of nngrade's child (seed, inputs, imports, cell, unfilled / missing names, probe);
# the comparison happens in the kernel itself, as nngrade compares in the grader's process.
_HIDDEN_TESTS = '''\
### BEGIN HIDDEN TESTS
# nngrade's checks of {item_id}, every case, without the sandbox
import ast as _ast, builtins as _builtins, io as _io, os as _os, random as _random, sys as _sys
import numpy as _np
import {cases_module} as _cases
from nngrade.grader.grading.compare import check as _check
from nngrade.grader.sandbox import wire as _wire
from nngrade.grader.spec import Expect as _Expect

_source = get_ipython().history_manager.input_hist_raw[-2]
_BLANK = {blank!r}
_WRITES = {writes!r}
_EXPECTS = [{expects}]
_CASES = {cases!r}  # (build, probe, args, seed, hidden, describe) of each case
_EXPECTED = _wire.loads({expected!r}.encode())  # the reference's observation of each case


def _normalised(text):
    return "\\n".join(line.rstrip() for line in text.strip().splitlines())


def _seed(seed):
    _random.seed(seed)
    _np.random.seed(seed)
    if "torch" in _sys.modules:
        _sys.modules["torch"].manual_seed(seed)


def _imports(text):
    try:
        tree = _ast.parse(text)
    except SyntaxError:
        return []
    return [_ast.unparse(n) for n in tree.body if isinstance(n, (_ast.Import, _ast.ImportFrom))]


def _observe(build, probe, args, seed, history):
    _seed(seed)
    namespace = {{"__name__": "__main__", "__builtins__": _builtins}}
    namespace.update(getattr(_cases, build)(**args))
    built = dict(namespace)
    for statement in [{preamble!r}] + [s for cell in history for s in _imports(cell)]:
        try:
            exec(statement, namespace)
        except Exception:
            pass
    namespace.update(built)
    _seed(seed)
    exec(compile(_source, "<your cell>", "exec"), namespace)
    unfilled = [n for n in _WRITES if namespace.get(n, None) is Ellipsis]
    assert not unfilled, f"`{{unfilled[0]}}` is still `...`: fill in the cell"
    missing = [n for n in _WRITES if n not in namespace]
    assert not missing, f"the cell did not define {{missing}}"
    return getattr(_cases, probe)(namespace, **args)


def _observe_forked(cases):
    """What the probe found on each case, run one after the other in one fork, and the
    error that stopped them (None if none did)."""
    history = list(get_ipython().history_manager.input_hist_raw)
    read, write = _os.pipe()
    pid = _os.fork()
    if pid == 0:
        _os.close(read)
        _sys.stdout = _sys.stderr = _io.StringIO()
        found, error = [], None
        try:
            for case in cases:
                found.append(_observe(*case[:4], history))
        except BaseException as exc:
            error = f"on {{case[5]}}: {{type(exc).__name__}}: {{exc}}"[:500]
        with _os.fdopen(write, "wb") as out:
            out.write(_wire.dumps({{"found": found, "error": error}}))
        _os._exit(0)
    _os.close(write)
    with _os.fdopen(read, "rb") as pipe:
        payload = pipe.read()
    _os.waitpid(pid, 0)
    assert payload, "the run of the cell ended without a result"
    result = _wire.loads(payload)
    return result["found"], result["error"]


assert _normalised(_source) != _normalised(_BLANK), "not answered yet: the cell is the template"
_index = 0
for _group in ([[case] for case in _CASES] if {process_per_case!r} else [list(_CASES)]):
    _found, _error = _observe_forked(_group)
    for _observed, (*_given, _hidden, _describe) in zip(_found, _group):
        for _expect in _EXPECTS:
            _verdict = _check(_expect, _observed, _EXPECTED[_index], hidden=_hidden)
            assert _verdict.ok, f"on {{_describe}}: {{_verdict.message}}"
        _index += 1
    assert _error is None, _error
### END HIDDEN TESTS
'''


def grade_id(item_id: str, part: str) -> str:
    """An nbgrader cell id for an item ("vanishing.sigmoid" -> "vanishing-sigmoid-tests"):
    nbgrader allows letters, digits, '-' and '_' only."""
    return f"{item_id.replace('.', '-')}-{part}"


def _literal(value: Any, what: str) -> Any:
    """``value`` if its repr reads back as the same Python literal (it goes into a cell)."""
    if ast.literal_eval(repr(value)) != value:
        raise ValueError(f"{what} cannot be written into a test cell: {value!r}")
    return value


def cases_share_a_process() -> bool:
    """Whether the installed nngrade runs an item's cases one after the other in one sandboxed
    process (module state of the ``cases`` module then carries from case to case) rather than
    each in a fresh one; the hidden tests follow the same model."""
    from nngrade.grader.sandbox import runner

    return "cases" in inspect.signature(runner.RunRequest.to_dict).parameters


def hidden_tests(exercise: Exercise, item: Item, observations: dict[tuple[str, int], Any],
                 blank: str) -> str:
    """The source of the autograder cell that checks ``item`` as nngrade does, against the
    reference's ``observations`` (by (item id, case index), as nngrade computes them)."""
    cases = tuple(_literal((c.build, c.probe, dict(c.args), c.seed, c.hidden, c.describe),
                           f"case {i} of {item.id}") for i, c in enumerate(item.cases))
    expects = ", ".join("_" + repr(dataclasses.replace(e, hint="")) for e in item.expects)
    expected = wire.dumps([observations[(item.id, i)] for i in range(len(item.cases))])
    return _HIDDEN_TESTS.format(item_id=item.id, cases_module=exercise.cases_module,
                                process_per_case=not cases_share_a_process(),
                                blank=blank, writes=tuple(item.writes), expects=expects,
                                cases=cases, expected=expected.decode("utf-8"),
                                preamble=exercise.preamble)


def graded_items(exercise: Exercise) -> list[Item]:
    """The items both graders score (manual ones are collected, not scored)."""
    return [item for item in exercise.items if not item.manual]


def source_notebook(exercise: Exercise, observations: dict[tuple[str, int], Any]) -> Any:
    """nbgrader's source notebook: the blank notebook, each graded item cell holding the
    reference as its solution and followed by its hidden tests."""
    if any(item.state or item.trained for item in graded_items(exercise)):
        raise ValueError(f"{exercise.stem} checks the notebook's own run (state), which these "
                         "hidden tests do not reproduce: pick one of 02-05")
    blank = solution.blank_sources(exercise.stem)
    graded = {item.id: item for item in graded_items(exercise)}
    nb = copy.deepcopy(solution.blank_notebook(exercise.stem))
    cells = []
    for cell in nb.cells:
        item_id = cell.get("metadata", {}).get(METADATA_KEY, {}).get("item")
        if cell.cell_type != "code" or item_id not in graded:
            cells.append(cell)
            continue
        cell.source = f"### BEGIN SOLUTION\n{exercise.solution[item_id]}\n### END SOLUTION"
        cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                     "grade_id": grade_id(item_id, "solution"),
                                     "schema_version": 3}
        tests = nbformat.v4.new_code_cell(
            hidden_tests(exercise, graded[item_id], observations, blank[item_id]))
        tests.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                      "points": graded[item_id].points,
                                      "grade_id": grade_id(item_id, "tests"),
                                      "schema_version": 3}
        cells += [cell, tests]
    nb.cells = cells
    return nb


@dataclass(frozen=True)
class Course:
    """An nbgrader course folder of one exercise."""

    root: Path
    exercise: Exercise

    @property
    def notebook(self) -> str:
        return f"{self.exercise.stem}.ipynb"

    @property
    def release(self) -> Path:
        return self.root / "release" / ASSIGNMENT / self.notebook

    def submission(self, student: str) -> Path:
        return self.root / "submitted" / student / ASSIGNMENT / self.notebook


def _nbgrader(course: Course, *args: str, env: dict[str, str] | None = None) -> None:
    command = [str(Path(sys.executable).with_name("nbgrader")), *args, "--log-level=WARN"]
    done = subprocess.run(command, cwd=course.root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def build_course(exercise: Exercise, observations: dict[tuple[str, int], Any],
                 root: Path, timeout: int) -> Course:
    """Write the course (config, source notebook) under ``root`` and release it."""
    course = Course(root, exercise)
    (root / "source" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        "c.CourseDirectory.course_id = 'nngrade-bench'\n"
        f"c.Execute.timeout = {timeout}\n")
    nbformat.write(source_notebook(exercise, observations),
                   str(root / "source" / ASSIGNMENT / course.notebook))
    _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    return course


# --- the class -------------------------------------------------------------------------------

# Correct answers written differently from the reference, and typical wrong ones, where they
# are easy to write (exercise 04, the default); other items get generated variants only.
HANDWRITTEN: dict[str, dict[str, list[str]]] = {
    "vanishing.sigmoid": {
        "correct": ["from scipy.special import expit\n\n\ndef sigmoid(x):\n    return expit(x)\n"
                    "\n\ndef sigmoid_prime(x):\n    return expit(x) * expit(-np.asarray(x))\n"],
        "wrong": ["def sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n\n\ndef sigmoid_prime(x):\n"
                  "    return sigmoid(x) * (1 - sigmoid(x))\n"],
    },
    "vanishing.max_sigmoid_prime": {
        "correct": ["max_sigmoid_prime = float(sigmoid_prime(0.0))\n"],
        "wrong": ["max_sigmoid_prime = 0.5\n"],
    },
    "vanishing.backward": {
        "wrong": ["def chain_gradients(w, b, x, y, activation=\"sigmoid\"):\n"
                  "    f, f_prime = activation_functions(activation)\n"
                  "    z, a = forward(w, b, x, activation)\n    L = len(w)\n"
                  "    C = 0.5 * (a[L - 1] - y) ** 2\n    delta = np.zeros(L)\n"
                  "    delta[L - 1] = np.sqrt(2 * C)\n    for l in range(L - 2, 0, -1):\n"
                  "        delta[l] = w[l + 1] * delta[l + 1] * f_prime(z[l])\n"
                  "    grad = np.zeros(L)\n    grad[1:] = delta[1:] * a[:-1]\n"
                  "    return grad\n"],
    },
    "vanishing.bound": {
        "correct": ["def gradient_ratio_bound(L):\n    return 1 / 4 ** (L - 2)\n"],
        "wrong": ["def gradient_ratio_bound(L):\n    return 0.25 ** (L - 1)\n"],
    },
    "vanishing.relu": {
        "correct": ["def relu(x):\n    x = np.asarray(x, dtype=float)\n    return x * (x > 0)\n"
                    "\n\ndef relu_prime(x):\n    return (np.asarray(x) > 0).astype(float)\n"],
        "wrong": ["def relu(x):\n    return np.maximum(x, 0)\n\n\ndef relu_prime(x):\n"
                  "    return np.where(np.asarray(x) >= 0, 1.0, 0.0)\n"],
    },
}


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def _replace(source: str, token: tokenize.TokenInfo, text: str) -> str:
    lines = source.splitlines(keepends=True)
    row, col = token.start
    line = lines[row - 1]
    lines[row - 1] = line[:col] + text + line[token.end[1]:]
    return "".join(lines)


def sign_flipped(source: str) -> str | None:
    """``source`` with its first binary + or - the other way round (else its first number
    off by one): a slip that runs and gives a wrong answer."""
    tokens = _tokens(source)
    for before, token in zip(tokens, tokens[1:]):
        if (token.type == tokenize.OP and token.string in "+-"
                and (before.type in (tokenize.NAME, tokenize.NUMBER) or before.string in ")]")):
            return _replace(source, token, "-" if token.string == "+" else "+")
    for token in tokens:
        if token.type == tokenize.NUMBER:
            return _replace(source, token, f"({token.string} + 1)")
    return None


def misspelt(source: str) -> str | None:
    """``source`` with the second read of a name misspelt (a NameError when it runs)."""
    tokens = _tokens(source)
    seen: set[str] = set()
    for before, token, after in zip(tokens, tokens[1:], tokens[2:]):
        if (token.type != tokenize.NAME or before.string == "." or keyword.iskeyword(token.string)
                or hasattr(builtins, token.string)):
            continue
        if after.string == "=":  # an assignment (or a keyword argument's name), not a read
            seen.add(token.string)
            continue
        if token.string in seen:
            return _replace(source, token, token.string + "_")
        seen.add(token.string)
    return None


def variants(item: Item, exercise: Exercise, blank: str) -> dict[str, list[str]]:
    """The answers students give to one item, by kind: correct, wrong, raises, blank."""
    reference = exercise.solution[item.id]
    written = HANDWRITTEN.get(item.id, {})
    wrong = [*written.get("wrong", ()), *filter(None, [sign_flipped(reference)])]
    return {"correct": [reference, *written.get("correct", ())], "wrong": wrong,
            "raises": list(filter(None, [misspelt(reference)])), "blank": [blank]}


def class_answers(exercise: Exercise, students: int, seed: int = 0) -> dict[str, dict[str, str]]:
    """Each student's answer to each item: the first submits the reference, the second leaves
    every cell blank, the third gives every correct variant; the others mix all kinds (about
    half correct, as in a real class)."""
    blank = solution.blank_sources(exercise.stem)
    rng = random.Random(seed)
    answers: dict[str, dict[str, str]] = {}
    for index in range(students):
        chosen = {}
        for item in graded_items(exercise):
            kinds = variants(item, exercise, blank[item.id])
            if index == 0:
                chosen[item.id] = kinds["correct"][0]
            elif index == 1:
                chosen[item.id] = kinds["blank"][0]
            elif index == 2:
                chosen[item.id] = kinds["correct"][-1]
            else:
                kind = rng.choice(["correct", "correct", "correct", "wrong", "wrong", "raises",
                                   "blank"])
                chosen[item.id] = rng.choice(kinds[kind] or kinds["correct"])
        answers[f"student{index:02d}"] = chosen
    return answers


def write_class(course: Course, answers: dict[str, dict[str, str]]) -> None:
    """Fill the released notebook with each student's answers, under submitted/."""
    released = nbformat.read(str(course.release), as_version=4)
    for student, chosen in answers.items():
        nb = copy.deepcopy(released)
        for cell in nb.cells:
            item_id = cell.get("metadata", {}).get(METADATA_KEY, {}).get("item")
            if cell.cell_type == "code" and item_id in chosen:
                cell.source = chosen[item_id]
        path = course.submission(student)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))


# --- grading with both -----------------------------------------------------------------------

Points = dict[str, dict[str, float]]  # student -> item id -> points


def nbgrader_grade(course: Course, env: dict[str, str]) -> tuple[float, Points]:
    """Seconds for ``nbgrader autograde`` of the whole class, and the points it gave."""
    from nbgrader.api import Gradebook

    shutil.rmtree(course.root / "autograded", ignore_errors=True)
    started = time.monotonic()
    _nbgrader(course, "autograde", ASSIGNMENT, "--force", env=env)
    seconds = time.monotonic() - started
    points: Points = {}
    students = sorted(p.name for p in (course.root / "submitted").iterdir())
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        for student in students:
            nb = gradebook.find_submission_notebook(course.exercise.stem, ASSIGNMENT, student)
            scores = {grade.name: grade.auto_score for grade in nb.grades}
            points[student] = {item.id: float(scores.get(grade_id(item.id, "tests")) or 0.0)
                               for item in graded_items(course.exercise)}
    return seconds, points


def supports_execute() -> bool:
    """Whether the installed ``nngrade grade`` has ``--execute`` (run the whole notebook)."""
    done = subprocess.run([_nngrade(), "grade", "--help"], capture_output=True, text=True)
    return "--execute" in done.stdout


def _nngrade() -> str:
    return str(Path(sys.executable).with_name("nngrade"))


@dataclass(frozen=True)
class NngradeRun:
    """One ``nngrade grade`` of the class: wall seconds, points, messages, and the seconds
    each report accounts for (its ``seconds``, and any breakdown of them it carries)."""

    seconds: float
    points: Points
    messages: dict[str, dict[str, str]]
    accounted: dict[str, list[float]]


def _accounted(sub: dict[str, Any]) -> dict[str, float]:
    """The seconds one submission's report accounts for: ``seconds``, and every field that
    is a mapping of names to seconds (a breakdown such as kernel start, cells, item runs)."""
    found = {"seconds": float(sub.get("seconds", 0.0))}
    for key, value in sub.items():
        if isinstance(value, dict) and value and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()):
            found.update({f"{key}.{name}": float(v) for name, v in value.items()})
    return found


def nngrade_grade(course: Course, env: dict[str, str], jobs: int, execute: bool) -> NngradeRun:
    """``nngrade grade`` of the whole class, timed."""
    command = [_nngrade(), "grade", str(course.root / "submitted"), "--format", "json",
               "--jobs", str(jobs), "--quiet", *(["--execute"] if execute else [])]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    run = NngradeRun(seconds, {}, {}, {})
    for sub in json.loads(done.stdout)["submissions"]:
        student = Path(sub["path"]).relative_to(course.root / "submitted").parts[0]
        if sub["errors"]:
            raise RuntimeError(f"nngrade could not grade {student}: {sub['errors']}")
        run.points[student] = {i["id"]: float(i["score"]) for i in sub["items"]}
        run.messages[student] = {i["id"]: f"{i['status']}: {i['message']}" for i in sub["items"]}
        for name, value in _accounted(sub).items():
            run.accounted.setdefault(name, []).append(value)
    return run


def disagreements(exercise: Exercise, ours: Points, theirs: Points,
                  messages: dict[str, dict[str, str]]) -> list[str]:
    """One line per (student, item) where the two graders gave different points."""
    lines = []
    for student in sorted(set(ours) | set(theirs)):
        for item in graded_items(exercise):
            a = ours.get(student, {}).get(item.id)
            b = theirs.get(student, {}).get(item.id)
            if a != b:
                lines.append(f"  {student} {item.id}: nngrade {a}, nbgrader {b} "
                             f"(nngrade said {messages.get(student, {}).get(item.id, '')[:150]})")
    return lines


def reference_observations(exercise: Exercise) -> dict[tuple[str, int], Any]:
    """nngrade's own observations of the reference (computed once, cached on disk)."""
    from nngrade.grader.grading.grade import Grader

    return Grader().reference(exercise).cases


def _values(runs: list[NngradeRun], name: str) -> list[float]:
    return [value for run in runs for value in run.accounted.get(name, [])]


@dataclass
class Measured:
    """Every timed run of a benchmark: nbgrader's wall seconds and last points, nngrade's
    runs by configuration, and the disagreements of each configuration with nbgrader."""

    nbgrader_seconds: list[float]
    nbgrader_points: Points
    runs: dict[str, list[NngradeRun]]
    disagreements: dict[str, list[str]]


def measure(course: Course, env: dict[str, str], configs: list[tuple[str, int, bool]],
            repeats: int) -> Measured:
    """Grade the class ``repeats`` times with nbgrader and with each nngrade configuration
    (label, jobs, execute), interleaved so that each sees the same machine."""
    measured = Measured([], {}, {label: [] for label, _, _ in configs},
                        {label: [] for label, _, _ in configs})
    for repeat in range(repeats):
        seconds, theirs = nbgrader_grade(course, env)
        measured.nbgrader_seconds.append(seconds)
        measured.nbgrader_points = theirs
        for label, jobs, execute in configs:
            run = nngrade_grade(course, env, jobs, execute)
            measured.runs[label].append(run)
            measured.disagreements[label] += [
                f"{line} [run {repeat + 1}]"
                for line in disagreements(course.exercise, run.points, theirs, run.messages)]
    return measured


def print_summary(exercise: Exercise, measured: Measured, students: int, repeats: int) -> None:
    """Seconds per notebook and ratios, agreement, scores, where nngrade's seconds go."""
    per = {label: statistics.median(run.seconds for run in runs) / students
           for label, runs in measured.runs.items()}
    base = statistics.median(measured.nbgrader_seconds) / students
    theirs = measured.nbgrader_points
    lost = sum(item.points - theirs[s][item.id] for s in theirs for item in graded_items(exercise))
    print(f"\n{students} notebooks, {len(graded_items(exercise))} graded items each, "
          f"median of {repeats} run(s), MPLBACKEND=Agg OMP_NUM_THREADS=1, "
          f"{os.cpu_count()} cores")
    print(f"{'grader':28} {'s/notebook':>10} {'nbgrader/this':>14}  verdicts")
    print(f"{'nbgrader autograde':28} {base:10.2f}")
    for label, seconds in per.items():
        problems = measured.disagreements[label]
        verdict = ("same points on every item" if not problems
                   else f"{len(problems)} (student, item) pairs differ")
        print(f"{label:28} {seconds:10.2f} {base / seconds:13.2f}x  {verdict}")
    scores = " ".join(f"{sum(theirs[s].values()):g}" for s in sorted(theirs))
    print(f"\nscores out of {exercise.max_score:g} (nbgrader's, last run; {lost:g} points lost "
          f"across the class): {scores}")
    print("\nwhere nngrade's seconds go, per notebook (median over notebooks and runs); at "
          "--jobs 1, 'before the first' is the wall time of a batch no report accounts for:")
    for label, runs in measured.runs.items():
        names = sorted({name for run in runs for name in run.accounted})
        parts = [f"{name} {statistics.median(_values(runs, name)):.2f} s" for name in names]
        if label.endswith("--jobs 1"):
            fixed = statistics.median(run.seconds - sum(run.accounted["seconds"]) for run in runs)
            parts.append(f"before the first {fixed:.1f} s")
        print(f"  {label:28} " + ", ".join(parts))
    for label, problems in measured.disagreements.items():
        if problems:
            print(f"\n{label} vs nbgrader, different points:")
            print("\n".join(problems))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise", default="04", choices=BENCH_EXERCISES)
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each grader (medians)")
    parser.add_argument("--timeout", type=int, default=60, help="nbgrader's cell timeout")
    parser.add_argument("--keep", type=Path, help="build the course here and keep it")
    args = parser.parse_args()
    if args.students < 3:
        parser.error("--students must be at least 3 (reference, blank, variants)")

    root = args.keep or Path(tempfile.mkdtemp(prefix="nngrade-vs-nbgrader-"))
    root.mkdir(parents=True, exist_ok=True)
    # one reference cache for the set-up and every timed run: warm, as in real use
    os.environ.setdefault(ENV_CACHE_DIR, str(root / "nngrade-cache"))
    # nbgrader runs the ``alembic`` of its environment by name
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {**os.environ, **SAME_BACKEND}
    exercise = load_exercise(args.exercise)
    started = time.monotonic()
    observations = reference_observations(exercise)
    course = build_course(exercise, observations, root / "course", args.timeout)
    write_class(course, class_answers(exercise, args.students))
    print(f"{exercise.stem}: course, release and {args.students} submissions in "
          f"{time.monotonic() - started:.1f} s under {root}")

    configs = [("nngrade --jobs 1", 1, False), ("nngrade --jobs 2", 2, False)]
    if supports_execute():
        configs += [("nngrade --execute --jobs 1", 1, True), ("nngrade --execute --jobs 2", 2, True)]
    measured = measure(course, env, configs, args.repeats)
    print_summary(exercise, measured, args.students, args.repeats)
    failed = any(measured.disagreements.values())
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
