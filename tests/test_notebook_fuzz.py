"""Property-based: whatever bytes arrive as a notebook, reading ends in a Submission or one
SubmissionError, never another exception."""

import json

import nbformat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nngrade.errors import SubmissionError
from nngrade.grader.grading import notebook

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30)

_cell = st.fixed_dictionaries(
    {"cell_type": st.sampled_from(["code", "markdown", "raw", 3, None]),
     "source": st.one_of(st.text(max_size=50), st.lists(st.text(max_size=10), max_size=3), _json),
     "metadata": st.one_of(_json, st.fixed_dictionaries(
         {"nngrade": st.one_of(_json, st.fixed_dictionaries(
             {"item": st.one_of(st.text(max_size=12), _json)}))}))},
    optional={"outputs": _json, "execution_count": _json, "id": _json})

_notebook = st.fixed_dictionaries(
    {"cells": st.one_of(st.lists(st.one_of(_cell, _json), max_size=5), _json),
     "metadata": _json, "nbformat": st.sampled_from([4, 3, "4", None]),
     "nbformat_minor": st.sampled_from([0, 4, 5, -1, "x"])})


def _read(tmp_path, data: bytes):
    path = tmp_path / "fuzz.ipynb"
    path.write_bytes(data)
    try:
        sub = notebook.read(path)
    except SubmissionError as exc:
        assert str(exc)
        return None
    assert isinstance(sub.cells, dict) and all(isinstance(v, str) for v in sub.cells.values())
    return sub


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_notebook)
def test_random_notebook_structures_never_crash_the_reader(tmp_path, raw):
    _read(tmp_path, json.dumps(raw).encode())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_reader(tmp_path, data):
    _read(tmp_path, data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_real_notebooks_never_crash_the_reader(tmp_path, data):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_markdown_cell("text")])
    nb.cells[0].metadata["nngrade"] = {"item": "a.b"}
    text = bytearray(nbformat.writes(nb).encode())
    for _ in range(data.draw(st.integers(1, 5))):
        position = data.draw(st.integers(0, len(text) - 1))
        text[position] = data.draw(st.integers(0, 255))
    _read(tmp_path, bytes(text))
