"""Reading and validating submissions."""

import json

import nbformat
import pytest

from nngrade.errors import SubmissionError
from nngrade.grader.grading import notebook


def _write(tmp_path, cells, name="nb.ipynb", meta=None):
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["nngrade"] = meta or {"exercise": "01_insurance_regression"}
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def _item(source, item, kind="code"):
    cell = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(source)
    cell.metadata["nngrade"] = {"item": item}
    return cell


def test_graded_cells_are_found_by_item_id(tmp_path):
    path = _write(tmp_path, [nbformat.v4.new_code_cell("import numpy as np\nx = 1"),
                             _item("df = df[df.smoker == 'no']", "insurance.filter")])
    sub = notebook.read(path)
    assert sub.exercise == "01_insurance_regression"
    assert sub.cells == {"insurance.filter": "df = df[df.smoker == 'no']"}
    assert sub.imports == ("import numpy as np",)
    assert sub.problems == ()


def test_duplicated_item_is_reported_and_the_first_cell_graded(tmp_path):
    path = _write(tmp_path, [_item("a = 1", "x.y"), _item("a = 2", "x.y")])
    sub = notebook.read(path)
    assert sub.cells == {"x.y": "a = 1"}
    assert any("more than one cell" in p for p in sub.problems)


def test_item_moved_to_a_markdown_cell_is_reported_not_graded(tmp_path):
    sub = notebook.read(_write(tmp_path, [_item("a = 1", "x.y", kind="markdown")]))
    assert sub.cells == {}
    assert any("markdown cell" in p for p in sub.problems)


def test_imports_inside_magics_and_syntax_errors_do_not_break_reading(tmp_path):
    cells = [nbformat.v4.new_code_cell("%matplotlib inline\nimport torch\nfrom torch import nn"),
             nbformat.v4.new_code_cell("def broken(:\n  pass")]
    sub = notebook.read(_write(tmp_path, cells))
    assert sub.imports == ("import torch", "from torch import nn")


@pytest.mark.parametrize("content, words", [
    (b'{"cells": [', "not valid JSON"),
    (b'[1, 2, 3]', "not a Jupyter notebook"),
    (b'{"nbformat": 3, "cells": [], "metadata": {}}', "nbformat 3"),
    (b'\xff\xfe\x00garbage', "not UTF-8"),
])
def test_unreadable_files_raise_one_clear_submission_error(tmp_path, content, words):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=words):
        notebook.read(path)


def test_oversized_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = _write(tmp_path, [nbformat.v4.new_code_cell("x" * 5000)])
    monkeypatch.setattr(notebook, "MAX_NOTEBOOK_BYTES", 1000)
    with pytest.raises(SubmissionError, match="are not graded"):
        notebook.read(path)


def test_missing_file_is_a_submission_error(tmp_path):
    with pytest.raises(SubmissionError, match="cannot be opened"):
        notebook.read(tmp_path / "nope.ipynb")


def test_schema_violation_is_noted_but_still_graded(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[_item("a = 1", "x.y")])
    raw = json.loads(nbformat.writes(nb))
    raw["cells"][0]["unexpected"] = True
    raw["metadata"]["nngrade"] = {"exercise": "01_insurance_regression"}
    path = tmp_path / "odd.ipynb"
    path.write_text(json.dumps(raw))
    sub = notebook.read(path)
    assert sub.cells == {"x.y": "a = 1"}
    assert any("schema" in p for p in sub.problems)


def test_a_symlink_is_refused_rather_than_followed(tmp_path):
    real = _write(tmp_path, [_item("a = 1", "x.y")], name="other_student.ipynb")
    link = tmp_path / "mine.ipynb"
    link.symlink_to(real)
    with pytest.raises(SubmissionError, match="symbolic link"):
        notebook.read(link)


def test_an_unreadable_file_raises_a_submission_error_that_names_it(tmp_path):
    from nngrade.errors import SubmissionError
    from nngrade.grader.grading import notebook

    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    with pytest.raises(SubmissionError, match="not valid JSON") as info:
        notebook.read(broken)
    assert info.value.path == str(broken)
