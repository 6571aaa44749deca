"""The notebook's own run in a limited kernel."""

import nbformat

from nngrade.grader import kernel


def _nb(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def test_errors_are_recorded_per_cell_and_the_run_goes_on_to_the_final_state():
    run = kernel.execute(_nb("a = 1", "1 / 0", "b = a + 41"), state_names=["b", "nope"])
    assert run.stopped is None
    assert [(e.index, e.ename) for e in run.cell_errors] == [(1, "ZeroDivisionError")]
    assert run.state == {"b": 42}


def test_a_cell_past_its_timeout_stops_the_run_with_a_sentence_naming_it():
    limits = kernel.KernelLimits(cell_timeout=3)
    run = kernel.execute(_nb("x = 1", "while True:\n    pass"), state_names=["x"], limits=limits)
    assert run.stopped and "cell 2" in run.stopped and "3 s limit" in run.stopped
    assert run.state == {}


def test_output_beyond_the_cap_is_dropped_and_flagged():
    limits = kernel.KernelLimits(output=10_000)
    run = kernel.execute(_nb("for i in range(2000):\n    print('line', i, flush=True)", "z = 5"),
                         state_names=["z"], limits=limits)
    assert run.output_truncated and run.state == {"z": 5}


def test_the_given_notebook_is_not_modified():
    nb = _nb("a = 1")
    kernel.execute(nb)
    assert nb.cells[0].outputs == [] and len(nb.cells) == 1


def test_the_notebook_run_has_no_network_cannot_write_outside_and_cannot_see_hidden(tmp_path):
    secret = tmp_path / "reference"
    secret.mkdir()
    (secret / "solution.py").write_text("ANSWER = 42")
    planted = tmp_path / "planted.txt"
    run = kernel.execute(_nb(
        "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=2)",
        f"open({str(planted)!r}, 'w').write('x')",
        f"import os\nseen = os.listdir({str(secret)!r})",
        "open('scratch.txt', 'w').write('fine')\nscratch = open('scratch.txt').read()"),
        state_names=["seen", "scratch"], hide=[str(secret)])
    assert [e.ename for e in run.cell_errors] == ["OSError", "OSError"]
    assert "unreachable" in run.cell_errors[0].evalue
    assert "Read-only" in run.cell_errors[1].evalue and not planted.exists()
    assert run.state == {"seen": [], "scratch": "fine"}
