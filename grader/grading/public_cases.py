"""The public cases modules of a release: a course's cases modules cut down to what the public
cases call.

A public case is run in a student's sandbox as it is in the grader's: its ``build`` makes the
inputs the cell reads (a fitted regressor, a DataFrame: values that plain data cannot carry
without pickle), its ``probe`` observes what the cell produced. So a release needs that code,
and only that code. This module reads each cases module's source (never imports it), keeps
the top-level statements that the public builds and probes reach (following names through
functions, classes, assignments and imports of the course's other modules, transitively),
and writes them back as source with ``ast.unparse``: comments go, a function used only by a
hidden case goes, a table of hidden inputs goes. A course module other than a cases module's
helpers may not be reached: a cases module that imports a ``solution`` or ``checks`` module
stops the release (``ReleaseError``), so no reference source ships.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from nngrade.errors import ReleaseError
from nngrade.grader.grading import parsing

REFUSED = ("solution", "checks")  # modules of a reference that never ship


class _Module:
    """One parsed module of the course: its statements, what each binds and needs."""

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path
        self.tree = parsing.parse(path.read_text(encoding="utf-8"), str(path))
        self.binds: dict[str, list[int]] = defaultdict(list)
        self.always: set[int] = set()
        for index, node in enumerate(self.tree.body):
            bound = _bound_names(node)
            for name in bound:
                self.binds[name].append(index)
            docstring = (index == 0 and isinstance(node, ast.Expr)
                         and isinstance(node.value, ast.Constant)
                         and isinstance(node.value.value, str))
            future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
            if future or (not bound and not docstring):
                self.always.add(index)  # a statement that runs for its effect


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _loaded_names(node: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


class _Course:
    """The course's modules by name, read on demand."""

    def __init__(self, package: str, reference: Path) -> None:
        self.package, self.reference = package, reference
        self.modules: dict[str, _Module] = {}

    def inside(self, name: str) -> bool:
        return name == self.package or name.startswith(self.package + ".")

    def file(self, name: str) -> Path | None:
        rel = name[len(self.package):].lstrip(".").split(".") if name != self.package else []
        base = self.reference.joinpath(*rel)
        for candidate in (base.with_suffix(".py") if rel else None, base / "__init__.py"):
            if candidate is not None and candidate.is_file():
                return candidate
        return None

    def module(self, name: str) -> _Module:
        if name.rsplit(".", 1)[-1] in REFUSED:
            raise ReleaseError(f"a cases module imports {name}: a release never ships a "
                               "reference's solution or declaration; move what the cases "
                               "need into the cases module")
        if name not in self.modules:
            path = self.file(name)
            if path is None:
                raise ReleaseError(f"the course module {name} cannot be found")
            self.modules[name] = _Module(name, path)
        return self.modules[name]

    def target(self, module: _Module, node: ast.ImportFrom) -> str:
        """The absolute module an import names (relative imports resolved)."""
        if node.level == 0:
            return node.module or ""
        is_package = module.path.name == "__init__.py"
        parts = module.name.split(".")[: None if is_package else -1]
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join(parts + ([node.module] if node.module else []))


def _relative(from_module: str, target: str, is_package: bool) -> tuple[int, str | None]:
    """The (level, module) of a relative import of ``target`` from ``from_module``."""
    here = from_module.split(".")[: None if is_package else -1]
    there = target.split(".")
    common = 0
    while common < min(len(here), len(there)) and here[common] == there[common]:
        common += 1
    level = len(here) - common + 1
    rest = ".".join(there[common:])
    return level, rest or None


def public_modules(package: str, reference: Path,
                   roots: dict[str, set[str]]) -> dict[str, str]:
    """The source of each course module the ``roots`` (cases module -> the build and probe
    names its public cases call) reach, cut to what they reach; keyed by the module's path
    relative to the course's reference package ("weights.cases"). Imports between course
    modules become relative, so the result imports under any package name."""
    course = _Course(package, reference)
    kept: dict[str, set[int]] = defaultdict(set)
    work: list[tuple[str, str | None]] = [(m, n) for m, names in roots.items() for n in names]
    for module_name in roots:
        work += [(module_name, None)]  # its effect statements (and __future__ imports)
    seen: set[tuple[str, str | None]] = set()
    while work:
        module_name, name = work.pop()
        if (module_name, name) in seen:
            continue
        seen.add((module_name, name))
        if not course.inside(module_name):
            raise ReleaseError(f"the cases module {module_name} is not part of the course")
        module = course.module(module_name)
        indices = module.always if name is None else set(module.binds.get(name, ()))
        if name is not None and not indices:
            if name in roots.get(module_name, ()):
                raise ReleaseError(f"{module_name} does not define {name!r}")
            continue  # a builtin, or a name bound inside a function
        for index in indices - kept[module_name]:
            kept[module_name].add(index)
            node = module.tree.body[index]
            work += [(module_name, n) for n in _loaded_names(node)]
            if isinstance(node, ast.Import) and any(course.inside(a.name) for a in node.names):
                raise ReleaseError(f"{module_name} imports a course module with `import`; "
                                   "use `from ... import name` so a release can follow it")
            if isinstance(node, ast.ImportFrom):
                target = course.target(module, node)
                if not course.inside(target):
                    continue
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    if course.file(submodule) is not None and alias.name not in REFUSED:
                        work += [(submodule, n) for n in course.module(submodule).binds]
                        work.append((submodule, None))
                    else:
                        work.append((target, alias.name))
                        work.append((target, None))
    sources = {}
    for module_name, indices in kept.items():
        module = course.modules[module_name]
        is_package = module.path.name == "__init__.py"
        body = []
        for index in sorted(indices):
            node = module.tree.body[index]
            if isinstance(node, ast.ImportFrom):
                target = course.target(module, node)
                if course.inside(target):
                    level, rest = _relative(module_name, target, is_package)
                    node = ast.ImportFrom(module=rest, names=node.names, level=level)
            body.append(node)
        rel = module_name[len(package):].lstrip(".")
        key = rel if not is_package else (rel + ".__init__" if rel else "__init__")
        sources[key] = ast.unparse(ast.fix_missing_locations(ast.Module(body, []))) + "\n"
    return sources
