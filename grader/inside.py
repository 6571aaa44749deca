"""``nngrade.check()`` from inside a running notebook: grade the saved file, show the table.

The kernel-side glue only. It never runs student code in the student's kernel: it finds the
notebook file this kernel runs, starts ``python -m nngrade check FILE --format json`` (the
sandboxed grader, as from a terminal) and renders what it prints: an HTML table in a
notebook's output, the text of ``nngrade check`` anywhere else. It imports nothing heavy, so
``import nngrade`` stays cheap for the students who import it for ``load_insurance``.

Which file: the ``path`` given; else VS Code's ``__vsc_ipynb_file__``; else
``JPY_SESSION_NAME`` (jupyter_server >= 2 sets it in the kernels it starts); else the
running Jupyter servers' ``/api/sessions``, matched by this kernel's id.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from nngrade.errors import (CheckRunError, NngradeError, NotebookNotFoundError,
                            UnknownItemError)
from nngrade.grader.outputs import html_table, text
from nngrade.grader.report import submission_from_dict

_PASS_THE_PATH = ('cannot tell which notebook file this kernel runs; pass its path: '
                  'nngrade.check(path="my_notebook.ipynb")')


def _shell() -> Any | None:
    """The running IPython shell, if this process has one (without importing IPython)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def _notebook_file(candidate: str | os.PathLike, base: Path, *,
                   by_name: bool = False) -> Path | None:
    """The notebook file ``candidate`` names, relative to ``base`` if not absolute; with
    ``by_name``, also its file name in ``base`` (a session path relative to the server's root
    seen from a kernel started in the notebook's folder)."""
    path = Path(candidate).expanduser()
    tried = (path, base / path, base / path.name) if by_name else (base / path,)
    for found in tried:
        if found.suffix == ".ipynb" and found.is_file():
            return found.resolve()
    return None


def _kernel_id() -> str | None:
    """This kernel's id, from the name of its connection file (``kernel-<id>.json``)."""
    if "ipykernel" not in sys.modules:
        return None
    try:
        from ipykernel import get_connection_file

        name = Path(get_connection_file()).name
    except Exception:  # not a kernel after all: no connection file to read
        return None
    if name.startswith("kernel-") and name.endswith(".json"):
        return name[len("kernel-"):-len(".json")]
    return None


def _server_files(runtime_dir: Path) -> list[Path]:
    # jupyter_server writes jpserver-<pid>.json, the classic notebook server nbserver-<pid>.json
    return sorted(runtime_dir.glob("jpserver-*.json")) + sorted(runtime_dir.glob("nbserver-*.json"))


def _runtime_dir() -> Path | None:
    if os.environ.get("JUPYTER_RUNTIME_DIR"):
        return Path(os.environ["JUPYTER_RUNTIME_DIR"])
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return None
    return Path(jupyter_runtime_dir())


def session_path(kernel_id: str, runtime_dir: Path, timeout: float = 2.0) -> Path | None:
    """The notebook file of the session whose kernel is ``kernel_id``, asked of every Jupyter
    server that left its info file in ``runtime_dir``; None when none knows it."""
    import urllib.request  # only on this last way of finding the file

    for info_file in _server_files(runtime_dir):
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
            request = urllib.request.Request(info["url"].rstrip("/") + "/api/sessions")
            if info.get("token"):
                request.add_header("Authorization", f"token {info['token']}")
            with urllib.request.urlopen(request, timeout=timeout) as response:
                sessions = json.loads(response.read())
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a stale info file, a server that is gone or refuses us: try the next
        root = Path(info.get("root_dir") or info.get("notebook_dir") or ".")
        for session in sessions:
            if (session.get("kernel") or {}).get("id") != kernel_id:
                continue
            relative = session.get("path") or (session.get("notebook") or {}).get("path")
            if relative:
                found = _notebook_file(root / relative, root)
                if found:
                    return found
    return None


def find_notebook(path: str | os.PathLike | None = None, *, shell: Any | None = None,
                  environ: Mapping[str, str] = os.environ) -> Path:
    """The saved notebook file to grade; raises NotebookNotFoundError with the sentence that
    says to pass ``path=`` when no way of finding it works."""
    base = Path.cwd()
    if path is not None:
        found = _notebook_file(path, base)
        if found is None:
            raise NotebookNotFoundError(f"no notebook file {os.fspath(path)!r} (looked from "
                                        f"{base})", path=str(path))
        return found
    user_ns = getattr(shell, "user_ns", None) or {}
    for candidate in (user_ns.get("__vsc_ipynb_file__"), environ.get("JPY_SESSION_NAME")):
        found = _notebook_file(candidate, base, by_name=True) if candidate else None
        if found:
            return found
    kernel_id, runtime_dir = _kernel_id(), _runtime_dir()
    if kernel_id and runtime_dir and runtime_dir.is_dir():
        found = session_path(kernel_id, runtime_dir)
        if found:
            return found
    raise NotebookNotFoundError(_PASS_THE_PATH)


def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def saved_cells(notebook: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cells of a saved notebook's JSON, each source joined into one string."""
    cells = []
    for cell in notebook.get("cells", ()):
        source = cell.get("source", "")
        cells.append({**cell, "source": "".join(source) if isinstance(source, list) else source})
    return cells


def item_ids(notebook: Mapping[str, Any]) -> list[str]:
    """The graded item ids of a saved notebook, in cell order (``metadata.nngrade.item``)."""
    return [cell["metadata"]["nngrade"]["item"] for cell in saved_cells(notebook)
            if isinstance(cell.get("metadata", {}).get("nngrade"), dict)
            and cell["metadata"]["nngrade"].get("item")]


def _tokens(source: str) -> Counter:
    return Counter(re.findall(r"\w+|[^\w\s]", source))


def _likeness(a: Counter, b: Counter) -> float:
    """How alike two cells are: the share of their tokens (names, numbers, signs) in common."""
    union = sum((a | b).values())
    return sum((a & b).values()) / union if union else 1.0


def _superseded(index: int, source: str, executed: Sequence[str], saved: Sequence[str],
                saved_tokens: Sequence[Counter]) -> bool:
    """True when ``source`` is an earlier version of a saved cell that the kernel ran, in its
    saved form, later (a cell fixed, run again and saved)."""
    if not saved:
        return False
    tokens = _tokens(source)
    score, closest = max((_likeness(tokens, t), cell) for cell, t in zip(saved, saved_tokens))
    return score >= 0.5 and closest in executed[index + 1:]


def unsaved_changes(notebook: Mapping[str, Any], executed: Iterable[str]) -> str | None:
    """A warning when code this kernel ran is in no code cell of the saved file (a cell
    edited and run since the last save, a cell not saved yet); None when all of it is.

    ``executed`` is the kernel's input history without the cell calling the check. A version
    of a cell that was run, then fixed, run again and saved, does not count."""
    saved = [_normal(c["source"]) for c in saved_cells(notebook)
             if c.get("cell_type") == "code"]
    ran = [_normal(s) for s in executed]
    saved_tokens = [_tokens(cell) for cell in saved]
    missing = [s for i, s in enumerate(ran)
               if s and s not in saved and not _superseded(i, s, ran, saved, saved_tokens)]
    if not missing:
        return None
    first = missing[0].splitlines()[0]
    first = first if len(first) <= 60 else first[:57] + "..."
    cells = "1 cell" if len(missing) == 1 else f"{len(missing)} cells"
    return (f"this kernel ran {cells} that the saved file does not hold (first: {first!r}); "
            f"the check grades the saved file: save the notebook (or restart the kernel and "
            f"run all) to check what you see")


def executed_sources(shell: Any | None) -> list[str] | None:
    """What this kernel ran before the current cell (IPython's raw input history), or None
    outside IPython."""
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if history is None:
        history = (getattr(shell, "user_ns", None) or {}).get("In")
    if history is None:
        return None
    return list(history[1:-1])  # In[0] is empty; the last entry is the cell running now


def run_check(path: Path, timeout: float | None = None) -> tuple[dict[str, Any], list[str]]:
    """Grade ``path`` with ``nngrade check --format json`` in a process of its own: the
    submission's JSON and the grader's warnings (its stderr lines that say "warning")."""
    command = [sys.executable, "-m", "nngrade", "check", str(path), "--format", "json"]
    if timeout is not None:
        command += ["--timeout", str(timeout)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          stdin=subprocess.DEVNULL, cwd=path.parent) as process:
        try:
            stdout, stderr = process.communicate()
        except KeyboardInterrupt:
            # "interrupt the kernel": let the grader stop its sandboxes as on Ctrl+C in a
            # terminal, and kill it only if it does not
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            raise
    done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    warnings = [line.removeprefix("nngrade: warning: ") for line in done.stderr.splitlines()
                if line.startswith("nngrade: warning: ")]
    try:
        return json.loads(done.stdout)["submissions"][0], warnings
    except (ValueError, KeyError, IndexError):
        said = [line for line in done.stderr.splitlines() if line.strip()]
        raise CheckRunError(said[-1].removeprefix("nngrade: ") if said else
                            f"the grader stopped (exit {done.returncode}) without a report",
                            path=str(path)) from None


def select(sub: dict[str, Any], item: str | None) -> dict[str, Any]:
    """The submission with only ``item``'s row (all rows for None); raises UnknownItemError
    naming the ids there are."""
    if item is None or sub.get("errors"):
        return sub
    rows = [i for i in sub.get("items", ()) if i["id"] == item]
    if not rows:
        raise UnknownItemError(unknown_item(item, [i["id"] for i in sub.get("items", ())]),
                               item=item)
    return {**sub, "items": rows}


def unknown_item(item: str, known: Sequence[str]) -> str:
    """The sentence for an item id the notebook does not have."""
    return f"this notebook has no item {item!r}; its items are: {', '.join(known)}"


def render_text(sub: Mapping[str, Any], warnings: Iterable[str] = ()) -> str:
    """What ``nngrade check`` prints for this submission, after the warnings; in public scope
    its points line gives way to the line that says what was not checked."""
    report = submission_from_dict(sub)
    lines = text.render_submission(report).splitlines()
    if html_table.is_public(sub) and not report.errors:
        line = "  " + html_table.summary_line(sub)
        if line not in lines:
            points = lines[-1].strip().startswith("Points ")
            lines = lines[:-1] + [line] if points else lines + [line]
    return "\n".join([*(f"warning: {w}" for w in warnings), *lines])


def _show(html: str, plain: str, shell: Any | None, handle: Any | None = None) -> None:
    if shell is None or not hasattr(shell, "kernel"):
        print(plain)
        return
    bundle = {"text/html": html, "text/plain": plain}
    if handle is not None:
        handle.update(bundle, raw=True)
    else:
        from IPython.display import display

        display(bundle, raw=True)


def _warnings(notebook: Mapping[str, Any], shell: Any | None) -> list[str]:
    executed = executed_sources(shell)
    unsaved = unsaved_changes(notebook, executed) if executed is not None else None
    return [unsaved] if unsaved else []


def check(item: str | None = None, *, path: str | os.PathLike | None = None,
          timeout: float | None = None) -> None:
    """Grade the saved notebook file in the sandbox and show the result: every item, or only
    ``item`` (e.g. ``"insurance.filter"``). ``path`` names the file when it cannot be found
    from the kernel; ``timeout`` caps each cell's run time (as ``nngrade check --timeout``)."""
    shell = _shell()
    in_kernel = shell is not None and hasattr(shell, "kernel")
    handle, warnings = None, []
    try:
        notebook_path = find_notebook(path, shell=shell)
        try:
            notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            notebook = None  # the grader says why it cannot read it
        if isinstance(notebook, dict):
            warnings = _warnings(notebook, shell)
            known = item_ids(notebook)
            if item is not None and known and item not in known:
                raise UnknownItemError(unknown_item(item, known), item=item)
        if in_kernel:
            from IPython.display import display

            # grading takes seconds: say so at once, then put the table in its place
            waiting = f"checking the saved file {notebook_path.name} in the sandbox..."
            handle = display({"text/plain": waiting,
                              "text/html": html_table.render_message(waiting)},
                             raw=True, display_id=True)
        sub, grader_warnings = run_check(notebook_path, timeout)
        sub = select(sub, item)
    except NngradeError as exc:
        plain = "\n".join([*(f"warning: {w}" for w in warnings), f"nngrade: {exc}"])
        page = html_table.render_message(str(exc), warnings)
        _show(page, plain, shell, handle)
        return
    warnings += grader_warnings
    _show(html_table.render(sub, warnings), render_text(sub, warnings), shell, handle)
