"""``nngrade.check()`` from inside a notebook (grader/inside.py) and its HTML table
(grader/outputs/html_table.py): a real kernel runs a filled notebook whose cells call the
check; the saved file is graded in the sandbox, never in that kernel."""

from __future__ import annotations

import html
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import nbformat
import pytest
from nbclient import NotebookClient

from grading import notebook_with
from nngrade.errors import UnknownItemError
from nngrade.grader import inside
from nngrade.grader.outputs import html_table, text
from nngrade.grader.report import ItemResult, SubmissionReport, submission_from_dict
from nngrade.reference import load_exercise

EXERCISE = load_exercise("05_edge_detection")
BLUR = next(i for i in EXERCISE.items if i.id == "edges.blur")
# box_kernel without the division by size**2: the blur brightens instead of averaging
WRONG_BLUR = ("def box_kernel(size):\n    return np.ones((size, size))\n\n"
              "blurred = convolve2d(gray, box_kernel(5))\n")
CHECK_ALL = "import nngrade\nnngrade.check()"
CHECK_UNKNOWN = 'nngrade.check("edges.no_such_item")'
NOT_SAVED = "scratch = 'a cell run but never saved'"


def _outputs(cell: nbformat.NotebookNode, mime: str) -> str:
    return "".join(o.get("data", {}).get(mime, "") for o in cell.outputs
                   if o.output_type in ("display_data", "execute_result"))


@pytest.fixture(scope="module")
def kernel_run(tmp_path_factory):
    """The filled notebook (one item wrong) saved with a last cell that checks everything; the
    kernel then also runs a cell that is not in the saved file and a check of an unknown item.
    Returns the executed cells of the two checks."""
    folder = tmp_path_factory.mktemp("inside")
    saved = notebook_with(EXERCISE, {"edges.blur": WRONG_BLUR})
    saved.cells.append(nbformat.v4.new_code_cell(CHECK_ALL))
    path = folder / f"{EXERCISE.stem}.ipynb"
    nbformat.write(saved, str(path))

    running = nbformat.reads(nbformat.writes(saved), as_version=4)
    running.cells += [nbformat.v4.new_code_cell(NOT_SAVED),
                      nbformat.v4.new_code_cell(CHECK_UNKNOWN)]
    env = {**os.environ, "JPY_SESSION_NAME": str(path)}
    NotebookClient(running, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute(env=env)
    return running.cells[-3], running.cells[-1]


def test_check_in_a_kernel_shows_a_table_of_every_item_with_the_lost_points_hint(kernel_run):
    cell = kernel_run[0]
    page = _outputs(cell, "text/html")
    assert "<table" in page and "checking the saved file" not in page
    rows = {item.id: next(r for r in page.split("<tr>") if f"<code>{item.id}</code>" in r)
            for item in EXERCISE.items}
    for item in EXERCISE.items:
        earned = 0 if item is BLUR else item.points
        assert f"<td>{earned:g}/{item.points:g}</td>" in rows[item.id]
        assert ("FAIL" if item is BLUR else "PASS") in rows[item.id]
    lost = EXERCISE.max_score - BLUR.points
    assert f"Points {lost:g}/{EXERCISE.max_score:g}" in page
    hints = [BLUR.hint] + [e.hint for e in BLUR.expects if e.hint]
    assert "hint:" in rows["edges.blur"]
    assert any(html.escape(h) in rows["edges.blur"] for h in hints)
    # the same words as `nngrade check` in the plain-text part; the saved file was complete
    plain = _outputs(cell, "text/plain")
    assert f"Points {lost:g}/{EXERCISE.max_score:g}" in plain and "warning" not in plain
    assert "warning" not in page


def test_unknown_item_names_the_items_there_are(kernel_run):
    plain = _outputs(kernel_run[1], "text/plain")
    assert "no item 'edges.no_such_item'" in plain
    assert ", ".join(i.id for i in EXERCISE.items) in plain


def test_code_run_but_not_saved_gives_a_warning_above_the_result(kernel_run):
    plain = _outputs(kernel_run[1], "text/plain")
    warning, rest = plain.split("\n", 1)
    assert warning.startswith("warning: this kernel ran 1 cell that the saved file does not")
    assert "scratch = " in warning and "no item" in rest
    assert "<strong>warning:</strong>" in _outputs(kernel_run[1], "text/html")


def test_outside_a_notebook_check_prints_what_nngrade_check_prints(tmp_path, monkeypatch,
                                                                   capsys):
    # a file the grader rejects at once (cheap); the report it gave is kept to compare with
    path = tmp_path / "not_an_exercise.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]),
                   str(path))
    reports = []

    def run_and_keep(*args, **kwargs):
        reports.append(real_run_check(*args, **kwargs))
        return reports[-1]

    real_run_check = inside.run_check
    monkeypatch.setattr(inside, "run_check", run_and_keep)
    inside.check(path=path)
    printed = capsys.readouterr().out
    (sub, _), = reports
    assert sub["errors"] and sub["path"] == str(path.resolve())
    assert printed.strip() == text.render_submission(submission_from_dict(sub))
    assert "could not be graded" in printed and "<" not in printed


def test_outside_a_notebook_without_a_path_says_to_pass_one(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    inside.check()
    assert 'pass its path: nngrade.check(path="' in capsys.readouterr().out
    (tmp_path / "mine.ipynb").write_text("{}")  # a path given is taken as given
    inside.check(path="elsewhere/mine.ipynb")
    assert "no notebook file 'elsewhere/mine.ipynb'" in capsys.readouterr().out


def test_jpy_session_name_relative_to_the_kernels_folder_is_found(tmp_path, monkeypatch):
    (tmp_path / "work.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert inside.find_notebook(environ={"JPY_SESSION_NAME": "course/work.ipynb"}) == \
        (tmp_path / "work.ipynb").resolve()


class _Sessions(BaseHTTPRequestHandler):
    """A Jupyter server's /api/sessions, answering only with the right token."""

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        if self.path != "/api/sessions" or self.headers.get("Authorization") != "token s3cret":
            self.send_response(403)
            self.end_headers()
            return
        body = json.dumps([{"path": "other.ipynb", "kernel": {"id": "k-other"}},
                           {"path": "sub/mine.ipynb", "kernel": {"id": "k-mine"}}]).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_running_servers_sessions_give_this_kernels_notebook(tmp_path):
    (tmp_path / "root" / "sub").mkdir(parents=True)
    (tmp_path / "root" / "sub" / "mine.ipynb").write_text("{}")
    server = HTTPServer(("127.0.0.1", 0), _Sessions)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        (tmp_path / "jpserver-1.json").write_text(json.dumps(
            {"url": url, "token": "s3cret", "root_dir": str(tmp_path / "root")}))
        (tmp_path / "jpserver-2.json").write_text(json.dumps(  # a server that is gone
            {"url": "http://127.0.0.1:9/", "token": "", "root_dir": "/"}))
        found = inside.session_path("k-mine", tmp_path)
        missing = inside.session_path("k-none", tmp_path)
    finally:
        server.shutdown()
    assert found == (tmp_path / "root" / "sub" / "mine.ipynb").resolve()
    assert missing is None


def test_unsaved_changes_only_when_run_code_is_missing_from_the_saved_file():
    saved = {"cells": [{"cell_type": "code", "source": ["x = 1\n", "y = 2   "]},
                       {"cell_type": "markdown", "source": "z = 3"}]}
    assert inside.unsaved_changes(saved, ["x = 1\ny = 2", "", "  x = 1\ny = 2\n"]) is None
    warning = inside.unsaved_changes(saved, ["x = 1\ny = 2", "z = 3"])
    assert warning and "1 cell" in warning and "'z = 3'" in warning


def test_a_cell_fixed_run_again_and_saved_is_not_an_unsaved_change():
    saved = {"cells": [{"cell_type": "code", "source": "def f(x):\n    return x / 2\n"}]}
    fixed_later = ["def f(x):\n    return x * 2", "def f(x):\n    return x / 2"]
    assert inside.unsaved_changes(saved, fixed_later) is None
    # the other way round: the version run last is not the saved one
    assert "1 cell" in inside.unsaved_changes(saved, fixed_later[::-1])
    assert "1 cell" in inside.unsaved_changes(saved, fixed_later[:1])


REPORT = SubmissionReport(
    "nb.ipynb", "05_edge_detection", 1.0, 3.0, (
        ItemResult("edges.a", 1.0, 1.0, "passed", "", "a hint never shown"),
        ItemResult("edges.b", 0.0, 2.0, "failed", "expected <script>alert(1)</script>",
                   "use <b>np.pad</b> & flip"),
        ItemResult("edges.why", 0.0, 0.0, "manual", "for your instructor")))


def test_html_table_escapes_messages_and_shows_hints_of_lost_points_only():
    page = html_table.render(REPORT, warnings=["<i>unsaved</i>"])
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "use &lt;b&gt;np.pad&lt;/b&gt; &amp; flip" in page and "<b>np.pad" not in page
    assert "a hint never shown" not in page
    assert "&lt;i&gt;unsaved&lt;/i&gt;" in page
    assert page.count("<tr>") == 1 + len(REPORT.items)
    assert "Points 1/3" in page
    # not run as a whole (executed False): noted as `nngrade check` notes it
    assert "note: Your notebook was not run as a whole" in page
    assert "note:" not in html_table.render({**html_table.as_dict(REPORT), "executed": True})


def test_html_table_of_an_ungradable_notebook_lists_why():
    page = html_table.render(SubmissionReport("x.ipynb", None, 0, 0, errors=("not <json>",)))
    assert "could not be graded" in page and "not &lt;json&gt;" in page and "<table" not in page


def test_public_scope_never_reads_as_full_marks():
    data = {**html_table.as_dict(REPORT), "score": 3.0, "scope": "public", "hidden_not_run": 9,
            "items": [{**html_table.as_dict(REPORT)["items"][0]}]}
    line = html_table.summary_line(data)
    assert line.startswith("1 of 1 public checks pass")
    assert "9 hidden checks run when your instructor grades" in line
    assert "Points" not in line
    assert line in html_table.render(data)
    assert inside.render_text(data).splitlines()[-1] == "  " + line
    assert "Points" not in inside.render_text(data)
    assert html_table.summary_line({**data, "scope": "full"}).startswith("Points")
    assert html_table.summary_line({k: v for k, v in data.items() if k != "scope"}) == "Points 3/3"


def test_selecting_one_item_keeps_its_row_and_an_unknown_one_lists_the_ids():
    data = html_table.as_dict(REPORT)
    assert [i["id"] for i in inside.select(data, "edges.b")["items"]] == ["edges.b"]
    with pytest.raises(UnknownItemError, match="edges.a, edges.b, edges.why"):
        inside.select(data, "edges.c")


def test_import_nngrade_does_not_load_the_checker():
    import subprocess
    import sys

    code = ("import sys, nngrade; assert callable(nngrade.check); "
            "print(any(m.startswith('nngrade.grader') for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"
