"""``nngrade export gradescope``: the autograder bundle Gradescope runs on its own machines.

The zip holds ``setup.sh`` (installs the dependencies, with torch pinned to a CPU build),
``run_autograder`` (grades the first notebook in the submission folder and writes
``results/results.json``), the package's own code and exercises under ``source/``, and the
data files under ``source/data`` so grading needs no download.
"""

from __future__ import annotations

import importlib
import re
import shlex
import zipfile
from importlib import metadata
from pathlib import Path

from nngrade.datasets import DATA_FILES, data_path
from nngrade.config import TORCH_PIN
from nngrade.errors import SetupError

PACKAGES = ("nngrade", "nngrade.grader", "nngrade.reference", "nngrade.datasets",
            "nngrade.exercises")


def requirements() -> list[str]:
    """The installed package's own dependencies (extras aside), torch pinned."""
    try:
        declared = metadata.requires("nngrade") or []
    except metadata.PackageNotFoundError as exc:
        raise SetupError("nngrade is not installed (pip install .), so its dependencies "
                         "for the bundle are unknown") from exc
    found = []
    for requirement in declared:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
        found.append(TORCH_PIN if name.lower() == "torch" else requirement)
    return found

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when the autograder image is built.
set -euo pipefail
apt-get install -y python3 python3-pip python3-venv >/dev/null 2>&1 || true
python3 -m pip install --upgrade pip
python3 -m pip install --extra-index-url https://download.pytorch.org/whl/cpu {requirements}
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; AUTOGRADER_ROOT is only for testing elsewhere.
root="${AUTOGRADER_ROOT:-/autograder}"
export PYTHONPATH="$root/source${PYTHONPATH:+:$PYTHONPATH}"
export NNGRADE_DATA_DIR="$root/source/data" NNGRADE_CACHE_DIR="$root/cache"
mkdir -p "$root/results"
notebook=$(find "$root/submission" -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort | head -n 1)
if [ -z "$notebook" ]; then
  echo '{"score": 0, "output": "No notebook (.ipynb) was found in the submission.", "tests": []}' \\
    > "$root/results/results.json"
  exit 0
fi
cd "$root/source"
python3 -m nngrade check "$notebook" --gradescope "$root/results/results.json"
exit 0
"""


def _add_package(bundle: zipfile.ZipFile, name: str) -> None:
    module = importlib.import_module(name)
    folder = Path(module.__file__).parent
    target = Path("source", *name.split("."))
    # an installed ``nngrade`` folder already holds its subpackages; a source checkout
    # maps each to its own folder: add each file once either way
    present = set(bundle.namelist())
    for path in sorted(folder.rglob("*")):
        arcname = str(target / path.relative_to(folder))
        if (path.is_file() and "__pycache__" not in path.parts
                and path.suffix in (".py", ".ipynb") and arcname not in present):
            bundle.write(path, arcname)


def gradescope_bundle(out: str | Path, course: Path | None = None) -> Path:
    """Write the autograder zip to ``out`` and return its path; ``course`` is the folder of a
    course outside the package, bundled as ``source/course`` and graded with."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (("setup.sh", SETUP_SH.format(requirements=" ".join(
                shlex.quote(r) for r in requirements()))), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            if name == "run_autograder" and course is not None:
                text = text.replace('mkdir -p "$root/results"', 'export NNGRADE_COURSE='
                                    '"$root/source/course"\nmkdir -p "$root/results"')
            bundle.writestr(info, text)
        for package in PACKAGES:  # subpackages (each exercise's reference) come with them
            _add_package(bundle, package)
        for path in sorted(course.rglob("*")) if course is not None else ():
            if path.is_file() and "__pycache__" not in path.parts:
                bundle.write(path, str(Path("source", "course", path.relative_to(course))))
        for entry in DATA_FILES.values():
            bundle.write(data_path(entry.name), f"source/data/{entry.filename}")
    return out
