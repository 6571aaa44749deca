"""The student wheel: the installed engine's files, without the reference, as a valid wheel.

Written straight from this install (no release, no sandbox run); a student's process with
only this wheel checking a release is tests/test_course.py's.
"""

from __future__ import annotations

import base64
import hashlib
import tomllib
import zipfile
from email.parser import Parser
from importlib import metadata, resources
from pathlib import Path

import pytest

from nngrade.errors import ReleaseError
from nngrade.grader.grading import student_wheel

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return student_wheel.write(tmp_path_factory.mktemp("dist"))


def _members(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_the_wheel_holds_every_package_but_the_reference_and_no_byte_code(wheel):
    names = set(_members(wheel))
    assert not [n for n in names if n.startswith("nngrade/reference") or "__pycache__" in n
                or n.endswith(".pyc")]
    packages = {n.removesuffix("/__init__.py").replace("/", ".") for n in names
                if n.endswith("/__init__.py")}
    declared = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
                   ["packages"])
    assert packages == {p for p in declared if not p.startswith(student_wheel.LEFT_OUT)}
    notebooks = {p.name for p in resources.files("nngrade.exercises").iterdir()
                 if p.name.endswith(".ipynb")}
    assert notebooks and {f"nngrade/exercises/{n}" for n in notebooks} <= names
    data = {p.name for p in (REPO / "datasets").glob("*.csv")}
    assert data and {f"nngrade/datasets/{n}" for n in data} <= names
    assert "nngrade/__main__.py" in names and "nngrade/grader/cli.py" in names


def test_its_record_lists_every_member_with_its_hash_and_size(wheel):
    members = _members(wheel)
    info = f"nngrade-{student_wheel.version()}.dist-info"
    record = members[f"{info}/RECORD"].decode().splitlines()
    listed = {}
    for line in record:
        name, digest, size = line.rsplit(",", 2)
        listed[name] = (digest, size)
    assert set(listed) == set(members)
    assert listed[f"{info}/RECORD"] == ("", "")
    for name, data in members.items():
        if name != f"{info}/RECORD":
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert listed[name] == (f"sha256={expected.decode()}", str(len(data))), name


def test_its_metadata_carries_the_installed_requirements_extras_and_console_script(wheel):
    members = _members(wheel)
    info = f"nngrade-{student_wheel.version()}.dist-info"
    assert wheel.name == f"nngrade-{student_wheel.version()}-py3-none-any.whl"
    fields = Parser().parsestr(members[f"{info}/METADATA"].decode())
    installed = metadata.metadata("nngrade")
    assert fields["Version"] == installed["Version"].split("+")[0] + "+student"
    for field in ("Name", "Requires-Python", "Requires-Dist", "Provides-Extra"):
        assert fields.get_all(field) == installed.get_all(field), field
    assert "student" in fields.get_all("Provides-Extra")
    assert members[f"{info}/entry_points.txt"].decode() == \
        metadata.distribution("nngrade").read_text("entry_points.txt")
    wheel_fields = Parser().parsestr(members[f"{info}/WHEEL"].decode())
    assert (wheel_fields["Root-Is-Purelib"], wheel_fields["Tag"]) == ("true", "py3-none-any")


def test_the_same_files_give_the_same_wheel(wheel, tmp_path):
    assert student_wheel.write(tmp_path).read_bytes() == wheel.read_bytes()


def test_the_constraints_a_student_installs_with_are_the_repositorys(tmp_path):
    written = student_wheel.write_constraints(tmp_path / "constraints.txt")
    assert written.read_text() == (REPO / "constraints.txt").read_text()


def test_a_package_list_that_would_ship_the_reference_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(student_wheel, "PACKAGES",
                        (*student_wheel.PACKAGES, student_wheel.LEFT_OUT))
    with pytest.raises(ReleaseError, match="reference"):
        student_wheel.write(tmp_path)
    assert not list(tmp_path.iterdir())
