"""Exercise 06 (do big networks overfit?): notebook, reference and checks agree, and judge well.

Sample submissions are the blank notebook filled by item id: answers written differently from
the reference get full marks; almost-right answers lose their item with a message that names
what is off. The notebook's own run is made cheaper in the samples (fewer epochs, two curve
sizes): 200 epochs still train the network within the bound of the notebook's own run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nngrade.grader.grading.grade import Grader
from nngrade.grader.grading.solution import blank_notebook, blank_notebook_text
from nngrade.grader.report import ItemResult
from nngrade.reference import load_exercise
from nngrade.reference.big_networks import cases
from nngrade.reference.big_networks.checks import NET_FACTOR
from nngrade.reference.big_networks.solution import SOLUTION
from grading import assert_full_marks, assert_lost, given_source, grade_answers, items_of

EXERCISE = load_exercise("06_big_networks")
# Given settings of the notebook's own run, lowered (substring replacements): 200 epochs still
# train the network within the bound of the notebook's own run; in the almost-right notebooks
# that bound is never reached (their training item fails first), so 5 epochs do.
FAST_SETTINGS = {"n_epochs = 500": "n_epochs = 200",
                 "sizes = [10, 30, 100, 300]": "sizes = [10, 30]"}
FASTER_SETTINGS = {"n_epochs = 500": "n_epochs = 5", "sizes = [10, 30, 100, 300]": "sizes = [10]"}


def _markdown() -> str:
    """The notebook's text, whitespace runs made single spaces."""
    return " ".join(" ".join(c.source for c in blank_notebook(EXERCISE.stem).cells
                             if c.cell_type == "markdown").split())


# --- the notebook, the reference and the grader's inputs --------------------------------------

def test_notebook_data_are_what_the_grader_rebuilds() -> None:
    ns: dict[str, Any] = {"np": np, "torch": torch}
    exec(given_source(EXERCISE, "def make_data"), ns)
    for n, seed in ((100, 1), (1000, 2), (7, 33)):
        for ours, theirs in zip(ns["make_data"](n, seed), cases.make_data(n, seed)):
            np.testing.assert_array_equal(ours, theirs)
    notebook = cases.NOTEBOOK
    np.testing.assert_array_equal(ns["x_train"],
                                  cases.make_data(notebook["n_train"], notebook["train_seed"])[0])
    np.testing.assert_array_equal(ns["y_test"],
                                  cases.make_data(notebook["n_test"], notebook["test_seed"])[1])
    assert torch.equal(ns["X_test"], cases.to_tensor(ns["x_test"]))


def test_reference_network_has_the_parameters_the_notebook_states() -> None:
    ns: dict[str, Any] = {"torch": torch, "nn": torch.nn, "np": np}
    exec(SOLUTION["big_networks.count_parameters"] + SOLUTION["big_networks.model"], ns)
    assert ns["count_parameters"](ns["model"]) == 40701 == 2 * 100 + 4 * 100 * 101 + 101
    assert "40,701" in _markdown()


def test_count_parameters_cases_hold_the_convention_boundaries() -> None:
    kinds = [k for case in EXERCISE.item("big_networks.count_parameters").cases if case.hidden
             for k in case.args["kinds"]]
    frozen = cases._counted_model("frozen_layer")
    assert sum(p.numel() for p in frozen.parameters() if not p.requires_grad) > 0
    assert sum(p.numel() for p in cases._counted_model("all_frozen").parameters()
               if p.requires_grad) == 0
    assert list(cases._counted_model("no_parameters").parameters()) == []
    norm = cases._counted_model("batchnorm")
    assert sum(b.numel() for b in norm.buffers()) > 0  # buffers that are not parameters
    assert any(m.bias is None for m in cases._counted_model("deep_no_bias").modules()
               if isinstance(m, torch.nn.Linear))
    assert {"frozen_layer", "all_frozen", "no_parameters", "batchnorm", "deep_no_bias"} <= set(kinds)


def test_hidden_cases_hold_zero_epochs_a_single_row_and_exact_lines() -> None:
    fit = [case for case in EXERCISE.item("big_networks.fit_network").cases if case.hidden]
    extra = [e for case in fit for e in case.args["extra"]]
    assert {e["n_epochs"] for e in extra} >= {0, 1} and min(e["n"] for e in extra) == 1
    line = [e for case in EXERCISE.item("big_networks.fit_line").cases if case.hidden
            for e in case.args["extra"]]
    kinds = {e["kind"] for e in line}
    assert {"two_points", "constant", "exact_line"} <= kinds
    x, y = cases._line_data("constant", 13, 12)
    assert np.ptp(y) == 0  # the least-squares slope is exactly 0
    curve = [case.args["sizes"] for case in EXERCISE.item("big_networks.learning_curve").cases]
    assert [10, 30, 100, 300] in curve and any(len(sizes) == 1 for sizes in curve)


def test_model_probe_tells_a_relu_on_the_output_and_a_linear_stack_apart() -> None:
    ns: dict[str, Any] = {"torch": torch, "nn": torch.nn}
    exec(SOLUTION["big_networks.model"], ns)
    right = cases.probe_model(ns)
    assert right["relu"] and right["nonlinear"] and right["linear_output"] and right["seeded"]
    clipped = cases.probe_model({**ns, "model": torch.nn.Sequential(ns["model"],
                                                                     torch.nn.ReLU())})
    assert not clipped["linear_output"] and clipped["n_parameters"] == 40701
    linear = torch.nn.Sequential(*[m for m in ns["model"] if isinstance(m, torch.nn.Linear)])
    assert not cases.probe_model({**ns, "model": linear})["nonlinear"]


def test_figures_in_the_notebook_are_the_reference_figures(grader: Grader) -> None:
    reference = grader.reference(EXERCISE)
    net = reference.state["big_networks.fit_network#trained"]["net_test_mse"]
    line = reference.cases[("big_networks.fit_line", 0)]["line_test_mse"]
    text = _markdown()
    # trained on another CPU, the same recipe lands a few thousandths away (3.987 where the
    # notebook was written, 3.977 on a Xeon with AVX-512): the text gives two decimals and
    # says so, and the grader's bound is always computed from its own reference run
    said = re.search(r"reference network reaches about \*\*([0-9.]+)\*\* there \(the line, "
                     r"in TODO 4, about ([0-9.]+)\)", text)
    bound = re.search(r"\*\*at most 1\.1 times the reference's\*\*, about \*\*([0-9.]+)\*\*",
                      text)
    assert said and bound and NET_FACTOR == 1.1
    for shown, computed in ((said.group(1), net), (said.group(2), line),
                            (bound.group(1), NET_FACTOR * net)):
        assert abs(float(shown) - computed) <= 0.01 * computed, (shown, computed)
    assert f"{NET_FACTOR:g} times the reference's" in text
    assert f"**{cases.CURVE_FACTOR:g} times the line's**" in text
    assert f"at most **{cases.LINE_SLACK:g} times** its" in text


def test_reference_gets_full_marks_and_the_blank_notebook_zero(grader: Grader,
                                                               tmp_path: Path) -> None:
    # the reference's observations come from the notebook as shipped (500 epochs); its own run
    # is graded here with fewer epochs (``nngrade validate 06`` grades the shipped settings)
    assert_full_marks(grade_answers(grader, EXERCISE, tmp_path / "ref", {},
                                    given=FAST_SETTINGS), EXERCISE)
    blank = tmp_path / "blank" / "06_big_networks.ipynb"
    blank.parent.mkdir()
    blank.write_text(blank_notebook_text(EXERCISE.stem))
    report = grader.grade(blank)
    assert report.graded and report.score == 0
    assert all("not answered" in i.message for i in report.items if i.status != "manual")


# --- answers written differently --------------------------------------------------------------

CORRECT = {
    "big_networks.count_parameters": (  # a loop over named parameters, sizes from the shape
        "def count_parameters(model):\n"
        "    total = 0\n"
        "    for name, p in model.named_parameters():\n"
        "        if p.requires_grad:\n"
        "            total += int(np.prod(p.shape))\n"
        "    return total\n"
    ),
    "big_networks.model": (  # a module of its own, torch.relu in forward
        "class BigNet(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.hidden = nn.ModuleList([nn.Linear(1, 100)]\n"
        "                                    + [nn.Linear(100, 100) for _ in range(4)])\n"
        "        self.out = nn.Linear(100, 1)\n"
        "\n"
        "    def forward(self, x):\n"
        "        for layer in self.hidden:\n"
        "            x = torch.relu(layer(x))\n"
        "        return self.out(x)\n"
        "\n"
        "\n"
        "def make_network(seed):\n"
        "    torch.manual_seed(seed)\n"
        "    return BigNet()\n"
        "\n"
        "\n"
        "model = make_network(0)\n"
    ),
    "big_networks.fit_network": (  # the loss by hand, zero_grad after the step, a tensor back
        "def train_network(model, X, Y, n_epochs, lr):\n"
        "    opt = torch.optim.Adam(model.parameters(), lr)\n"
        "    history = []\n"
        "    for _ in range(n_epochs):\n"
        "        loss = ((model(X) - Y) ** 2).mean()\n"
        "        loss.backward()\n"
        "        opt.step()\n"
        "        opt.zero_grad()\n"
        "        history.append(float(loss))\n"
        "    return history\n"
        "\n"
        "\n"
        "def network_mse(model, X, Y):\n"
        "    with torch.no_grad():\n"
        "        return torch.mean((Y - model(X)) ** 2)\n"
        "\n"
        "\n"
        "losses = train_network(model, X_train, Y_train, n_epochs, lr)\n"
        "net_test_mse = network_mse(model, X_test, Y_test)\n"
    ),
    "big_networks.fit_line": (  # np.polyfit, whose order is (slope, intercept)
        "def fit_line(x, y):\n"
        "    slope, intercept = np.polyfit(x, y, 1)\n"
        "    return intercept, slope\n"
        "\n"
        "\n"
        "intercept, slope = fit_line(x_train, y_train)\n"
        "residuals = intercept + slope * x_test - y_test\n"
        "line_test_mse = residuals @ residuals / len(residuals)\n"
    ),
    "big_networks.learning_curve": (  # no function, the line first, another network seed,
        "net_curve, line_curve = [], []\n"  # the network's error by hand
        "for n in sizes:\n"
        "    x, y = make_data(n, seed=1)\n"
        "    b0, b1 = fit_line(x, y)\n"
        "    line_curve.append(float(np.mean((b0 + b1 * x_test - y_test) ** 2)))\n"
        "    net = make_network(3)\n"
        "    train_network(net, to_tensor(x), to_tensor(y), n_epochs, lr)\n"
        "    with torch.no_grad():\n"
        "        net_curve.append(((net(X_test) - Y_test) ** 2).mean().item())\n"
        "net_curve, line_curve = np.array(net_curve), np.array(line_curve)\n"
    ),
}


def test_answers_written_differently_get_full_marks(grader: Grader, tmp_path: Path) -> None:
    assert_full_marks(grade_answers(grader, EXERCISE, tmp_path, CORRECT, given=FAST_SETTINGS),
                      EXERCISE)


# --- almost-right answers, spread over three notebooks ----------------------------------------

WRONG_A = {
    "big_networks.count_parameters": (  # frozen parameters counted too
        "def count_parameters(model):\n"
        "    return sum(p.numel() for p in model.parameters())\n"
    ),
    "big_networks.model": (  # four hidden layers instead of five
        "def make_network(seed):\n"
        "    torch.manual_seed(seed)\n"
        "    layers = [nn.Linear(1, 100), nn.ReLU()]\n"
        "    for _ in range(3):\n"
        "        layers += [nn.Linear(100, 100), nn.ReLU()]\n"
        "    return nn.Sequential(*layers, nn.Linear(100, 1))\n"
        "\n"
        "model = make_network(0)\n"
    ),
    "big_networks.fit_network": (  # a new Adam every epoch: its running averages restart
        "def train_network(model, X, Y, n_epochs, lr):\n"
        "    losses = []\n"
        "    for epoch in range(n_epochs):\n"
        "        optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n"
        "        optimizer.zero_grad()\n"
        "        loss = nn.functional.mse_loss(model(X), Y)\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "        losses.append(loss.item())\n"
        "    return losses\n"
        "\n"
        "\n"
        "def network_mse(model, X, Y):\n"
        "    with torch.no_grad():\n"
        "        return nn.functional.mse_loss(model(X), Y).item()\n"
        "\n"
        "\n"
        "losses = train_network(model, X_train, Y_train, n_epochs, lr)\n"
        "net_test_mse = network_mse(model, X_test, Y_test)\n"
    ),
    "big_networks.fit_line": (  # np.polyfit unpacked in the wrong order
        "def fit_line(x, y):\n"
        "    intercept, slope = np.polyfit(x, y, 1)\n"
        "    return intercept, slope\n"
        "\n"
        "\n"
        "intercept, slope = fit_line(x_train, y_train)\n"
        "line_test_mse = np.mean((intercept + slope * x_test - y_test) ** 2)\n"
    ),
    "big_networks.learning_curve": (  # one network, trained on one size after the other
        "net = make_network(0)\n"
        "net_curve, line_curve = [], []\n"
        "for n in sizes:\n"
        "    x, y = make_data(n, seed=1)\n"
        "    train_network(net, to_tensor(x), to_tensor(y), n_epochs, lr)\n"
        "    net_curve.append(network_mse(net, X_test, Y_test))\n"
        "    b0, b1 = fit_line(x, y)\n"
        "    line_curve.append(np.mean((b0 + b1 * x_test - y_test) ** 2))\n"
        "net_curve, line_curve = np.array(net_curve), np.array(line_curve)\n"
    ),
}

WRONG_B = {
    "big_networks.count_parameters": (  # nn.Linear layers only, and always with a bias
        "def count_parameters(model):\n"
        "    return sum(m.weight.numel() + m.bias.numel() for m in model.modules()\n"
        "               if isinstance(m, nn.Linear))\n"
    ),
    "big_networks.model": (  # tanh units
        "def make_network(seed):\n"
        "    torch.manual_seed(seed)\n"
        "    layers = [nn.Linear(1, 100), nn.Tanh()]\n"
        "    for _ in range(4):\n"
        "        layers += [nn.Linear(100, 100), nn.Tanh()]\n"
        "    return nn.Sequential(*layers, nn.Linear(100, 1))\n"
        "\n"
        "model = make_network(0)\n"
    ),
    "big_networks.fit_network": (  # right training, the error measured on the training set
        SOLUTION["big_networks.fit_network"].replace(
            "network_mse(model, X_test, Y_test)", "network_mse(model, X_train, Y_train)")
    ),
    "big_networks.fit_line": (  # np.cov (n - 1) over np.var (n): the slope too large
        "def fit_line(x, y):\n"
        "    slope = np.cov(x, y)[0, 1] / np.var(x)\n"
        "    return y.mean() - slope * x.mean(), slope\n"
        "\n"
        "\n"
        "intercept, slope = fit_line(x_train, y_train)\n"
        "line_test_mse = np.mean((intercept + slope * x_test - y_test) ** 2)\n"
    ),
    "big_networks.learning_curve": (  # both errors on the training points
        "net_curve, line_curve = [], []\n"
        "for n in sizes:\n"
        "    x, y = make_data(n, seed=1)\n"
        "    net = make_network(0)\n"
        "    train_network(net, to_tensor(x), to_tensor(y), n_epochs, lr)\n"
        "    net_curve.append(network_mse(net, to_tensor(x), to_tensor(y)))\n"
        "    b0, b1 = fit_line(x, y)\n"
        "    line_curve.append(np.mean((b0 + b1 * x - y) ** 2))\n"
        "net_curve, line_curve = np.array(net_curve), np.array(line_curve)\n"
    ),
}

WRONG_C = {
    "big_networks.count_parameters": (  # weight matrices only
        "def count_parameters(model):\n"
        "    return sum(p.numel() for p in model.parameters() if p.requires_grad and p.dim() > 1)\n"
    ),
    "big_networks.model": (  # not seeded: every call gives other weights
        "def make_network(seed):\n"
        "    layers = [nn.Linear(1, 100), nn.ReLU()]\n"
        "    for _ in range(4):\n"
        "        layers += [nn.Linear(100, 100), nn.ReLU()]\n"
        "    return nn.Sequential(*layers, nn.Linear(100, 1))\n"
        "\n"
        "model = make_network(0)\n"
    ),
    "big_networks.fit_network": (  # one epoch too many
        SOLUTION["big_networks.fit_network"].replace("range(n_epochs)", "range(n_epochs + 1)")
    ),
    "big_networks.fit_line": (  # a line through the origin
        "def fit_line(x, y):\n"
        "    return 0.0, float(np.sum(x * y) / np.sum(x * x))\n"
        "\n"
        "\n"
        "intercept, slope = fit_line(x_train, y_train)\n"
        "line_test_mse = np.mean((intercept + slope * x_test - y_test) ** 2)\n"
    ),
    "big_networks.learning_curve": (  # the learning rate typed in, not passed on
        SOLUTION["big_networks.learning_curve"].replace(
            "to_tensor(y), n_epochs, lr)", "to_tensor(y), n_epochs, 0.01)")
    ),
}


def _graded(grader: Grader, folder: Path, answers: dict[str, str]) -> dict[str, ItemResult]:
    return items_of(grade_answers(grader, EXERCISE, folder, answers, given=FASTER_SETTINGS))


@pytest.fixture(scope="module")
def wrong_a(grader: Grader, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ItemResult]:
    return _graded(grader, tmp_path_factory.mktemp("wrong_a"), WRONG_A)


@pytest.fixture(scope="module")
def wrong_b(grader: Grader, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ItemResult]:
    return _graded(grader, tmp_path_factory.mktemp("wrong_b"), WRONG_B)


@pytest.fixture(scope="module")
def wrong_c(grader: Grader, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ItemResult]:
    return _graded(grader, tmp_path_factory.mktemp("wrong_c"), WRONG_C)


def test_count_parameters_with_frozen_buffers_or_biases_wrong_loses_the_item(
        wrong_a: dict[str, ItemResult], wrong_b: dict[str, ItemResult],
        wrong_c: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["big_networks.count_parameters"], "hidden case", "frozen",
                "found yes")
    assert_lost(wrong_b["big_networks.count_parameters"], "layers without bias",
                "raised AttributeError")
    assert_lost(wrong_c["big_networks.count_parameters"], "count_parameters(model) on each model",
                "expected (40701, 31), found (40200, 20)")


def test_network_of_the_wrong_depth_units_or_seeding_loses_the_item(
        wrong_a: dict[str, ItemResult], wrong_b: dict[str, ItemResult],
        wrong_c: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["big_networks.model"], "trainable parameters", "expected 40701, found 30601")
    assert_lost(wrong_b["big_networks.model"], "ReLU units", "expected yes, found no")
    assert_lost(wrong_c["big_networks.model"], "same weights for the same seed")


def test_training_with_a_restarted_adam_or_an_extra_epoch_loses_the_item(
        wrong_a: dict[str, ItemResult], wrong_c: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["big_networks.fit_network"], "weights after train_network")
    assert_lost(wrong_c["big_networks.fit_network"], "weights after train_network")


def test_held_out_error_measured_on_the_training_set_loses_the_item(
        wrong_b: dict[str, ItemResult]) -> None:
    assert_lost(wrong_b["big_networks.fit_network"], "net_test_mse, the held-out")


def test_line_swapped_biased_or_through_the_origin_loses_the_item(
        wrong_a: dict[str, ItemResult], wrong_b: dict[str, ItemResult],
        wrong_c: dict[str, ItemResult]) -> None:
    for wrong in (wrong_a, wrong_b, wrong_c):
        assert_lost(wrong["big_networks.fit_line"], "(intercept, slope) fitted")
    assert "slope first" in wrong_a["big_networks.fit_line"].hint


def test_learning_curve_reusing_a_network_or_training_errors_or_another_lr_loses_the_item(
        wrong_a: dict[str, ItemResult], wrong_b: dict[str, ItemResult],
        wrong_c: dict[str, ItemResult]) -> None:
    assert_lost(wrong_a["big_networks.learning_curve"], "fresh network", "expected yes, found no")
    assert_lost(wrong_b["big_networks.learning_curve"], "net_curve holds the held-out errors")
    assert_lost(wrong_c["big_networks.learning_curve"], "trained for n_epochs at lr")


def test_every_almost_right_answer_costs_its_item_and_the_manual_item_is_listed(
        wrong_a: dict[str, ItemResult], wrong_b: dict[str, ItemResult],
        wrong_c: dict[str, ItemResult]) -> None:
    for wrong in (wrong_a, wrong_b, wrong_c):
        assert {i for i, r in wrong.items() if r.status == "passed"} == set()
        assert wrong["big_networks.conclusion"].status == "manual"
