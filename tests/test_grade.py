"""Grading one submission: what is the student's, what is the package's, and the keys a
stored grade is filed under."""

from __future__ import annotations

import dataclasses

import nbformat
import pytest

from nngrade.errors import DeclarationError, ReferenceFailure
from nngrade.grader.grading import declaration, expected, notebook, solution
from nngrade.grader.grading.grade import Grader
from nngrade.grader.spec import Case, Exercise, Expect, Item
from nngrade.reference import load_exercise

VANISHING = load_exercise("04")


def _one_item(exercise: Exercise, item_id: str, **changes) -> Exercise:
    item = dataclasses.replace(exercise.item(item_id), **changes)
    return dataclasses.replace(exercise, items=(item,))


def test_a_notebook_without_metadata_is_filed_under_its_exercises_fingerprint(tmp_path):
    # graded as exercise 04 by its file name, so its stored grade must change with 04's reference
    nb = solution.blank_notebook(VANISHING.stem)
    del nb.metadata["nngrade"]
    path = tmp_path / f"{VANISHING.stem}.ipynb"
    nbformat.write(nb, str(path))
    version = Grader().version_of(path.read_bytes(), path)
    assert version == expected.fingerprint(VANISHING) != ""
    assert Grader().version_of(b"{not json", tmp_path / "notes.ipynb") == ""


def test_a_failure_of_the_graders_own_inputs_is_the_packages_error_not_the_students(tmp_path):
    exercise = _one_item(VANISHING, "vanishing.bound", cases=(
        Case("build_broken", "probe", "inputs the grader cannot build",
             args={"depths": [3]}),))
    exercise = dataclasses.replace(exercise, cases_module="sandbox_cases")
    nb = solution.filled_notebook(VANISHING)
    path = tmp_path / f"{VANISHING.stem}.ipynb"
    nbformat.write(nb, str(path))
    sub = notebook.read(path)
    grader = Grader()
    reference = expected.ReferenceRun({("vanishing.bound", 0): {"ratios": [1.0]}}, {})
    with pytest.raises(ReferenceFailure) as info:
        grader._grade_item(exercise, exercise.items[0], sub, {}, reference, [], ())
    assert info.value.item == "vanishing.bound" and info.value.exercise == VANISHING.stem
    assert "problem of the package" in str(info.value) and "RuntimeError" in str(info.value)


def test_a_declaration_naming_a_probe_its_cases_lack_fails_when_loaded():
    broken = _one_item(VANISHING, "vanishing.bound", cases=(
        Case("build_nothing", "probe_that_does_not_exist", "anything"),))
    with pytest.raises(DeclarationError, match="probe_that_does_not_exist") as info:
        declaration.check_names(broken)
    assert info.value.item == "vanishing.bound"
    declaration.check_names(VANISHING)  # the real one passes


def test_an_expect_key_the_reference_does_not_observe_stops_with_a_setup_error(tmp_path):
    item = VANISHING.item("vanishing.bound")
    broken = _one_item(VANISHING, item.id,
                       expects=(*item.expects, Expect("no_such_key", "something")))
    with pytest.raises(DeclarationError) as info:
        Grader(use_cache=False).reference(broken)
    assert info.value.exercise == VANISHING.stem and info.value.item == item.id
    assert "'no_such_key'" in str(info.value)


def test_editing_the_command_line_or_the_outputs_keeps_the_fingerprint():
    sources = {p.relative_to(p.parents[1]).as_posix() for p in expected.observation_sources()}
    assert "sandbox/child.py" in sources and "grader/probes.py" in sources
    assert "vanishing/solution.py" in sources
    assert not any(s.endswith("cli.py") or "outputs/" in s or s.endswith("compare.py")
                   for s in sources)
