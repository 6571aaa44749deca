"""The student's distribution of nngrade: a wheel of the engine without the reference.

``nngrade release`` writes it into every release (``dist/``), so a course for credit gives its
students the engine, the data registry and the blank notebooks, and none of the solutions or
hidden cases that the ``nngrade`` distribution carries in ``nngrade.reference``. The wheel is
written from the installed package's own files (an editable install or a normal one alike),
with no build tool and no network: a PEP 427 zip whose metadata (dependencies, extras, the
console script) is copied from the installed distribution's, so ``[student]`` adds JupyterLab.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import zipfile
from importlib import metadata
from pathlib import Path

from nngrade.errors import ReleaseError

DISTRIBUTION = "nngrade"
LOCAL = "student"  # the local version label: 0.1.0+student
# What a student's install holds. Each package's folder is walked into its subpackages,
# except those listed here on their own (an editable install keeps them in other folders)
# and the reference, which is never walked.
PACKAGES = ("nngrade", "nngrade.grader", "nngrade.datasets", "nngrade.exercises")
LEFT_OUT = "nngrade.reference"
# Copied from the installed distribution's METADATA; its long description and licence-file
# entries name what the wheel does not hold.
COPIED_FIELDS = ("Name", "Summary", "Home-page", "Author", "Author-email", "License",
                 "Keywords", "Classifier", "Project-URL", "Requires-Python", "Requires-Dist",
                 "Provides-Extra")
# The repository's constraints.txt (a test pins them equal): a normal install does not carry
# that file, and without the pin pip pulls torch's several GB of CUDA packages.
CONSTRAINTS = """\
# Pins that keep the install small and reproducible. torch must be the CPU build 2.13.0:
# any looser request pulls several GB of CUDA packages.
torch==2.13.0
"""
# A fixed time for every member, so the same files give the same wheel.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _installed() -> metadata.Distribution:
    try:
        return metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise ReleaseError("nngrade runs here without being installed (pip install it): the "
                           "student wheel copies the installed distribution's metadata") from None


def version() -> str:
    """The student wheel's version: the installed nngrade's, with the local label ``student``."""
    return _installed().version.split("+", 1)[0] + "+" + LOCAL


def wheel_name() -> str:
    """The wheel's file name (PEP 427: pure Python, any platform)."""
    return f"{DISTRIBUTION}-{version()}-py3-none-any.whl"


def _folder(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ReleaseError(f"the installed nngrade has no package {package}: reinstall nngrade")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def _reference_folder() -> Path | None:
    try:
        spec = importlib.util.find_spec(LEFT_OUT)
    except ImportError:  # a student's install: nothing to leave out
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def _package_files(package: str, folder: Path) -> dict[str, Path]:
    """Member name -> file, for one package and its subpackages found inside its folder."""
    members = {}
    prefix = package.replace(".", "/")
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        if entry.is_dir():
            sub = f"{package}.{entry.name}"
            if (entry / "__init__.py").is_file() and sub not in PACKAGES and sub != LEFT_OUT:
                members.update(_package_files(sub, entry))
        elif entry.suffix not in (".pyc", ".pyo"):
            members[f"{prefix}/{entry.name}"] = entry
    return members


def package_files() -> dict[str, Path]:
    """Every file the student wheel holds (member name -> installed file): the packages of
    ``PACKAGES`` with their data, no ``nngrade.reference`` and no byte-code."""
    members: dict[str, Path] = {}
    for package in PACKAGES:
        members.update(_package_files(package, _folder(package)))
    reference = _reference_folder()
    for name, path in members.items():
        # belt and braces: a layout that nested the reference elsewhere must not ship it
        if name.startswith(LEFT_OUT.replace(".", "/") + "/") or (
                reference is not None and reference in path.resolve().parents):
            raise ReleaseError(f"the student wheel would hold the reference file {path}")
    return members


def _metadata_text() -> str:
    installed = _installed().metadata
    lines = ["Metadata-Version: 2.1"]
    for field in COPIED_FIELDS:
        values = installed.get_all(field) or []
        if field == "Name":
            lines.append(f"Name: {values[0] if values else DISTRIBUTION}")
            lines.append(f"Version: {version()}")
        else:
            lines += [f"{field}: {value}" for value in values]
    body = ("nngrade for students: the sandboxed checker, the data registry and the blank "
            "notebooks, without the reference solutions and hidden cases. Check a notebook "
            "with `nngrade check NOTEBOOK` inside a course's release.\n")
    return "\n".join(lines) + "\n\n" + body


def _wheel_text() -> str:
    return ("Wheel-Version: 1.0\nGenerator: nngrade release\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n")


def _entry_points_text() -> str:
    text = _installed().read_text("entry_points.txt")
    if not text or "[console_scripts]" not in text:
        raise ReleaseError("the installed nngrade has no console script entry point: "
                           "reinstall nngrade")
    return text


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write(folder: str | Path) -> Path:
    """Write the student wheel into ``folder`` (created if missing); returns its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{DISTRIBUTION}-{version()}.dist-info"
    contents = {name: path.read_bytes() for name, path in sorted(package_files().items())}
    contents[f"{info}/METADATA"] = _metadata_text().encode()
    contents[f"{info}/WHEEL"] = _wheel_text().encode()
    contents[f"{info}/entry_points.txt"] = _entry_points_text().encode()
    contents[f"{info}/top_level.txt"] = f"{DISTRIBUTION}\n".encode()
    record = [_record_line(name, data) for name, data in contents.items()]
    contents[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    target = folder / wheel_name()
    partial = target.with_suffix(".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in contents.items():
            member = zipfile.ZipInfo(name, _EPOCH)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            wheel.writestr(member, data)
    partial.replace(target)  # never a half-written wheel under the wheel's name
    return target


def write_constraints(path: str | Path) -> Path:
    """Write the pins a student installs the wheel with (``pip install -c``)."""
    path = Path(path)
    path.write_text(CONSTRAINTS, encoding="utf-8")
    return path
