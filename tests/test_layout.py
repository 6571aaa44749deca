"""The layout is the architecture: who may import whom, checked on the source.

- the reference (exercise content) uses only the declaration (``spec``) and the probe API;
- the sandbox knows nothing of grading, outputs or exercises;
- outputs render a report and know nothing else of the engine;
- the probe API stands alone;
- the engine reaches an exercise only through its declaration (the ``nngrade.reference``
  index), never by importing an exercise's modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOTS = {"nngrade.grader": REPO / "grader", "nngrade.reference": REPO / "reference",
         "nngrade.datasets": REPO / "datasets", "nngrade": REPO / "src" / "nngrade"}

SHARED = ("nngrade.errors", "nngrade.config")
RULES: dict[str, tuple[str, ...]] = {
    # package prefix -> the nngrade modules it may import (prefixes)
    "nngrade.reference": (*SHARED, "nngrade.grader.spec", "nngrade.grader.probes",
                          "nngrade.reference", "nngrade.datasets"),
    "nngrade.grader.sandbox": (*SHARED, "nngrade.grader.sandbox", "nngrade.grader.probes"),
    "nngrade.grader.outputs": (*SHARED, "nngrade.grader.report", "nngrade.grader.outputs",
                               "nngrade.datasets"),
    # authoring writes files from templates: it needs nothing of the engine
    "nngrade.grader.authoring": SHARED,
    "nngrade.grader.probes": SHARED,
    "nngrade.grader.spec": (),
    "nngrade.grader.report": (),
}


def _sources() -> list[Path]:
    return sorted(p for root in ROOTS.values() for p in root.rglob("*.py")
                  if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    for prefix, root in ROOTS.items():
        if root in path.parents:
            rel = path.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            return ".".join([prefix, *parts])
    raise AssertionError(path)


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from package import module" imports that module; "from module import name"
            # imports the module
            submodules = [f"{node.module}.{a.name}" for a in node.names
                          if f"{node.module}.{a.name}" in MODULES]
            found += submodules or [node.module]
    return [f for f in found if f == "nngrade" or f.startswith("nngrade.")]


def _allowed(name: str, allowed: tuple[str, ...]) -> bool:
    return any(name == a or name.startswith(a + ".") for a in allowed)


def _rule_for(module: str) -> tuple[str, ...] | None:
    matches = [p for p in RULES if module == p or module.startswith(p + ".")]
    return RULES[max(matches, key=len)] if matches else None




SOURCES = _sources()
MODULES = {_module_name(p) for p in SOURCES}


def violations(sources: list[Path] = SOURCES) -> list[str]:
    """Every import that breaks a rule, as 'module imports name'."""
    broken = []
    for path in sources:
        module = _module_name(path)
        rule = _rule_for(module)
        for name in _imports(path):
            if name == "nngrade" and module.startswith("nngrade.grader.sandbox"):
                continue  # the package itself (its version): no content
            if rule is not None and not _allowed(name, rule):
                broken.append(f"{module} imports {name}")
            # the engine meets an exercise only through the reference index
            if module.startswith("nngrade.grader") and name.startswith("nngrade.reference."):
                broken.append(f"{module} imports exercise content {name}")
    return broken


def test_every_package_imports_only_what_its_rule_allows():
    assert violations() == []


@pytest.mark.parametrize("module_text, target", [
    ("from nngrade.grader.sandbox import runner\n", REPO / "reference" / "insurance" / "x.py"),
    ("from nngrade.grader.grading import grade\n", REPO / "grader" / "sandbox" / "x.py"),
    ("from nngrade.grader.grading.batch import collect\n", REPO / "grader" / "outputs" / "x.py"),
    ("import nngrade.reference.insurance.solution\n", REPO / "grader" / "grading" / "x.py"),
])
def test_the_rule_check_catches_a_broken_rule(tmp_path, monkeypatch, module_text, target):
    # the same walk over one planted file, read from a temporary copy of its path
    planted = tmp_path / "planted.py"
    planted.write_text(module_text)
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: module_text)
    assert violations([target]) != []


def test_the_engine_packages_are_installed_as_packages():
    import tomllib

    packages = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
                   ["packages"])
    for folder in (REPO / "grader").rglob("__init__.py"):
        assert _module_name(folder) in packages, folder
    for folder in (REPO / "reference").rglob("__init__.py"):
        assert _module_name(folder) in packages, folder


def test_checking_with_a_release_never_imports_the_reference():
    # a student's install has no nngrade.reference: the release path must not need it
    for name in ("public", "release", "public_cases", "course", "student_wheel"):
        path = REPO / "grader" / "grading" / f"{name}.py"
        assert not [n for n in _imports(path) if n.startswith("nngrade.reference")], name
