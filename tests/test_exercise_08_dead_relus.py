"""Exercise 08 (dead ReLUs): notebook, reference and checks agree, and judge well.

Sample submissions are the reference notebook with some cells replaced by item id: answers
written differently from the reference get full marks; almost-right answers lose exactly their
item with a message that names what is off. More almost-right function answers are judged
in-process against the reference's observations (``_judge``: the cases' builds and probes
and the engine's comparison, without the sandbox), which keeps this file cheap.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import torch

from nngrade.errors import ProbeError
from nngrade.grader.grading import compare, solution
from nngrade.grader.grading.expected import trained_key
from nngrade.grader.grading.grade import Grader
from nngrade.grader.report import ItemResult
from nngrade.reference import load_exercise
from nngrade.reference.dead_relus import cases
from nngrade.reference.dead_relus.cases import MARGIN, NOTEBOOK, STALL
from nngrade.reference.dead_relus.solution import SOLUTION
from grading import assert_full_marks, assert_lost, given_source, grade_answers, items_of

EXERCISE = load_exercise("08_dead_relus")


def _markdown() -> str:
    return "\n".join(c.source for c in solution.blank_notebook(EXERCISE.stem).cells
                     if c.cell_type == "markdown")


def _judge(grader: Grader, item_id: str, source: str,
           only: tuple[int, ...] | None = None) -> str | None:
    """The first failed comparison of ``source`` as item ``item_id`` on the item's cases, run
    in this process with the cases' builds and probes (None when every case passes)."""
    torch.set_num_threads(1)
    reference = grader.reference(EXERCISE)
    item = EXERCISE.item(item_id)
    for index, case in enumerate(item.cases):
        if only is not None and index not in only:
            continue
        prefix = f"on a hidden case ({case.describe}): " if case.hidden else ""
        ns: dict[str, Any] = {}
        exec(EXERCISE.preamble, ns)
        torch.manual_seed(case.seed)
        ns.update(getattr(cases, case.build)(**case.args))
        torch.manual_seed(case.seed)
        exec(source, ns)
        try:
            found = getattr(cases, case.probe)(ns, **case.args)
        except ProbeError as exc:
            return prefix + str(exc)
        for expect in item.expects:
            verdict = compare.check(expect, found, reference.cases[(item_id, index)],
                                    hidden=case.hidden)
            if not verdict.ok:
                return prefix + verdict.message
    return None


# --- the notebook, the reference and the grader's inputs --------------------------------------

def test_notebook_data_is_what_the_grader_rebuilds() -> None:
    ns: dict[str, Any] = {"np": np, "torch": torch}
    exec(given_source(EXERCISE, "default_rng(data_seed)"), ns)
    assert (ns["data_seed"], ns["n_train"], ns["n_test"], ns["n_features"]) == tuple(
        NOTEBOOK.values())
    for name, value in cases.make_data(**NOTEBOOK).items():
        assert torch.equal(ns[name], value), name


def test_notebook_broken_training_is_the_one_the_grader_diagnoses() -> None:
    import inspect

    source = given_source(EXERCISE, "broken_model = nn.Sequential(")
    assert "n_epochs = 500" in source and "torch.manual_seed(0)" in source
    assert "train_residual_net(broken_model, X_train, r_train, n_epochs, lr=0.01)" in source
    ours = inspect.getsource(cases._broken_notebook)
    assert "n_epochs, 0.01)" in ours
    for layers in ("nn.Linear(32, 32), nn.ReLU()", "nn.Linear(32, 1), nn.ReLU()"):
        assert layers in source and layers in ours


def test_rule_model_tells_the_counting_rules_apart() -> None:
    model, x = cases.rule_model(), cases.rule_input()
    with torch.no_grad():
        outputs = [model[:2](x), model[:4](x)]
        pre = [model[:1](x), model[:3](x)]
    units = sum(o.shape[1] for o in outputs)
    shares = {
        "units": sum(int((o == 0).all(0).sum()) for o in outputs) / units,
        "layers": float(np.mean([float((o == 0).all(0).float().mean()) for o in outputs])),
        "threshold": sum(int((o < 1e-3).all(0).sum()) for o in outputs) / units,
        "strict": sum(int((p < 0).all(0).sum()) for p in pre) / units,
        "any row": sum(int((o == 0).any(0).sum()) for o in outputs) / units,
    }
    assert shares["units"] == pytest.approx(3 / 7)
    assert len({round(v, 9) for v in shares.values()}) == len(shares)
    assert all(cases._rule_of(v) != "none of the usual rules" for v in shares.values())


def test_hidden_diagnosis_networks_are_what_they_claim() -> None:
    fit = cases.build_diagnosis("fit", 31, data_seed=2, dead=10, train_only_dead=3)
    two = cases.build_diagnosis("two_percent", 32, data_seed=1, dead=5)
    for built in (fit, two):
        with torch.no_grad():
            built["mse"] = float(((built["r_test"] - built["broken_model"](built["X_test"]))
                                  ** 2).mean()) / built["linear_test_mse"]
    assert fit["mse"] < 0.5  # healthy
    assert STALL < two["mse"] < 1.0  # helps, a little: stalled, though below the floor
    dead_train = cases.dead_relu_fraction(fit["broken_model"], fit["X_train"])
    dead_test = cases.dead_relu_fraction(fit["broken_model"], fit["X_test"])
    assert dead_train == 13 / 40 and dead_test < dead_train  # some units dead on train only


def test_target_numbers_in_the_notebook_are_the_reference_figures(grader: Grader) -> None:
    reference = grader.reference(EXERCISE)
    floor = reference.cases[("dead_relus.linear_floor", 0)]["linear_test_mse"]
    ratio = reference.state[trained_key("dead_relus.fix")]["held_out_over_floor"]
    text = _markdown()
    assert f"**{MARGIN} times** the linear floor, here at most **{MARGIN * floor:.4f}**" in text
    assert f"(floor {floor:.4f})" in text
    # a trained figure: 0.37 where the notebook was written, 0.36 on a Xeon with AVX-512
    said = re.search(r"reference fix reaches about ([0-9.]+) times the floor", text)
    assert said and abs(float(said.group(1)) - ratio) <= 0.02, (said, ratio)
    assert f"`broken_test_mse > {STALL} * linear_test_mse`" in text
    assert ratio < MARGIN


# --- grading sample submissions ---------------------------------------------------------------

# One notebook of answers written differently from the reference, item by item.
CORRECT = {
    "dead_relus.linear_floor": (  # normal equations in float32; a (4, 1) beta; a 0-d tensor
        "A = torch.cat([torch.ones(len(X_train), 1), X_train], dim=1)\n"
        "beta = torch.linalg.solve(A.T @ A, A.T @ y_train)\n"
        "r_train = y_train - A @ beta\n"
        "r_test = y_test - torch.cat([torch.ones(len(X_test), 1), X_test], dim=1) @ beta\n"
        "linear_test_mse = (r_test ** 2).mean()\n"
    ),
    "dead_relus.dead_fraction": (  # forward hooks, a tensor returned
        "def dead_relu_fraction(model, X):\n"
        "    seen = []\n"
        "    hooks = [m.register_forward_hook(lambda mod, inp, out: seen.append(out))\n"
        "             for m in model if isinstance(m, nn.ReLU)]\n"
        "    with torch.no_grad():\n"
        "        model(X)\n"
        "    for h in hooks:\n"
        "        h.remove()\n"
        "    if not seen:\n"
        "        return torch.tensor(0.0)\n"
        "    return torch.cat([(out == 0).all(dim=0) for out in seen]).float().mean()\n"
    ),
    "dead_relus.residual_fit": (  # zero_grad first, a hand-written mean, float(loss)
        "def train_residual_net(model, X, r, n_epochs, lr):\n"
        "    opt = torch.optim.Adam(model.parameters(), lr)\n"
        "    history = []\n"
        "    epoch = 0\n"
        "    while epoch < n_epochs:\n"
        "        opt.zero_grad()\n"
        "        loss = ((model(X) - r) ** 2).mean()\n"
        "        history.append(float(loss))\n"
        "        loss.backward()\n"
        "        opt.step()\n"
        "        epoch += 1\n"
        "    return history\n"
    ),
    "dead_relus.diagnosis": (  # tensors, no torch.no_grad, a bool from a tensor
        "broken_dead_fraction = dead_relu_fraction(broken_model, X_train)\n"
        "broken_test_mse = nn.functional.mse_loss(broken_model(X_test), r_test)\n"
        "stalled = (broken_test_mse > 0.95 * linear_test_mse).item()\n"
    ),
    "dead_relus.fix": (  # plain ReLU hidden units, a linear output, a smaller learning rate
        "fixed_model = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 1))\n"
        "train_residual_net(fixed_model, X_train, r_train, n_epochs, lr=0.003)\n"
    ),
}

# Almost-right answers graded as one notebook (each item is graded on the grader's own inputs,
# so one notebook can hold several); WRONG_B's are judged in-process (see _judge).
WRONG_A = {
    "dead_relus.linear_floor": (  # no intercept
        "beta = torch.linalg.lstsq(X_train, y_train).solution.ravel()\n"
        "r_train = y_train - X_train @ beta[:, None]\n"
        "r_test = y_test - X_test @ beta[:, None]\n"
        "linear_test_mse = float((r_test ** 2).mean())\n"
    ),
    "dead_relus.dead_fraction": (  # each layer's share, averaged over the layers
        "def dead_relu_fraction(model, X):\n"
        "    shares, h = [], X\n"
        "    with torch.no_grad():\n"
        "        for layer in model:\n"
        "            h = layer(h)\n"
        "            if isinstance(layer, nn.ReLU):\n"
        "                shares.append(float((h == 0).all(dim=0).float().mean()))\n"
        "    return sum(shares) / len(shares) if shares else 0.0\n"
    ),
    "dead_relus.residual_fit": (  # zero_grad forgotten: gradients accumulate
        "def train_residual_net(model, X, r, n_epochs, lr):\n"
        "    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n"
        "    losses = []\n"
        "    for epoch in range(n_epochs):\n"
        "        loss = nn.functional.mse_loss(model(X), r)\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "        losses.append(loss.item())\n"
        "    return losses\n"
    ),
    "dead_relus.diagnosis": (  # stalled without the 5% margin
        "broken_dead_fraction = dead_relu_fraction(broken_model, X_train)\n"
        "with torch.no_grad():\n"
        "    broken_test_mse = float(((r_test - broken_model(X_test)) ** 2).mean())\n"
        "stalled = broken_test_mse >= linear_test_mse\n"
    ),
    # the fix cell is the reference's; a later cell rebuilds fixed_model untrained (REBUILT)
}

WRONG_B = {
    "dead_relus.linear_floor": (  # the floor measured on the training set
        "A = np.hstack([np.ones((len(X_train), 1)), X_train.numpy()])\n"
        "beta, *_ = np.linalg.lstsq(A, y_train.numpy(), rcond=None)\n"
        "r_train = y_train - torch.tensor(A @ beta, dtype=torch.float32)\n"
        "A_test = np.hstack([np.ones((len(X_test), 1)), X_test.numpy()])\n"
        "r_test = y_test - torch.tensor(A_test @ beta, dtype=torch.float32)\n"
        "linear_test_mse = float((r_train ** 2).mean())\n"
    ),
    "dead_relus.dead_fraction": (  # a threshold instead of an exact zero
        "def dead_relu_fraction(model, X):\n"
        "    dead = total = 0\n"
        "    h = X\n"
        "    for layer in model:\n"
        "        h = layer(h).detach()\n"
        "        if isinstance(layer, nn.ReLU):\n"
        "            dead += int((h.abs() < 1e-3).all(dim=0).sum())\n"
        "            total += h.shape[1]\n"
        "    return dead / total if total else 0.0\n"
    ),
    "dead_relus.residual_fit": (  # one epoch short
        "def train_residual_net(model, X, r, n_epochs, lr):\n"
        "    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n"
        "    losses = []\n"
        "    for epoch in range(1, n_epochs):\n"
        "        loss = nn.functional.mse_loss(model(X), r)\n"
        "        optimizer.zero_grad()\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "        losses.append(loss.item())\n"
        "    return losses\n"
    ),
    "dead_relus.diagnosis": (  # the dead share on the held-out rows
        "broken_dead_fraction = dead_relu_fraction(broken_model, X_test)\n"
        "with torch.no_grad():\n"
        "    broken_test_mse = float(((r_test - broken_model(X_test)) ** 2).mean())\n"
        "stalled = broken_test_mse > 0.95 * linear_test_mse\n"
    ),
    "dead_relus.fix": (  # a smaller learning rate, the output ReLU kept
        "torch.manual_seed(0)\n"
        "fixed_model = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),\n"
        "                            nn.Linear(32, 1), nn.ReLU())\n"
        "train_residual_net(fixed_model, X_train, r_train, n_epochs, lr=0.001)\n"
    ),
}
# an edit of the given evaluation cell: the network the notebook leaves behind is untrained
REBUILT = {"with torch.no_grad():\n    fixed_test_mse": (
    "torch.manual_seed(1)\n"
    "fixed_model = nn.Sequential(nn.Linear(3, 32), nn.LeakyReLU(0.1), nn.Linear(32, 32),\n"
    "                            nn.LeakyReLU(0.1), nn.Linear(32, 1))\n"
    "with torch.no_grad():\n    fixed_test_mse")}


@pytest.fixture(scope="module")
def wrong_a(grader: Grader, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ItemResult]:
    return items_of(grade_answers(grader, EXERCISE, tmp_path_factory.mktemp("wrong_a"),
                                  WRONG_A, given=REBUILT))


@pytest.fixture(scope="module")
def wrong_b(grader: Grader) -> dict[str, str | None]:
    """WRONG_B's answers judged in-process: the first failed comparison of each."""
    return {item: _judge(grader, item, source) for item, source in WRONG_B.items()}


def _lost(message: str | None, *words: str) -> None:
    assert message is not None, "the answer passed"
    assert all(w.lower() in message.lower() for w in words), message


def test_reference_gets_full_marks_and_blank_gets_zero(grader: Grader, tmp_path) -> None:
    path = solution.write_solution(EXERCISE, tmp_path / "ref" / f"{EXERCISE.stem}.ipynb")
    assert_full_marks(grader.grade(path), EXERCISE)
    blank = tmp_path / "blank" / f"{EXERCISE.stem}.ipynb"
    blank.parent.mkdir()
    blank.write_text(solution.blank_notebook_text(EXERCISE.stem))
    report = grader.grade(blank)
    assert report.graded and report.score == 0
    assert all("not answered" in i.message for i in report.items)


def test_answers_written_differently_get_full_marks(grader: Grader, tmp_path) -> None:
    assert_full_marks(grade_answers(grader, EXERCISE, tmp_path, CORRECT), EXERCISE)


def test_the_wrong_notebook_loses_every_item(wrong_a, wrong_b) -> None:
    assert {i for i, r in wrong_a.items() if r.status == "passed"} == set()
    assert set(WRONG_B) == {i.id for i in EXERCISE.items if not i.manual}


def test_linear_fit_without_intercept_loses_the_item(wrong_a) -> None:
    assert_lost(wrong_a["dead_relus.linear_floor"], "number of coefficients in beta",
                "expected 4, found 3")


def test_floor_measured_on_the_training_set_loses_the_item(wrong_b) -> None:
    _lost(wrong_b["dead_relus.linear_floor"], "linear_test_mse", "held-out")


def test_dead_share_averaged_over_layers_loses_the_item(wrong_a) -> None:
    assert_lost(wrong_a["dead_relus.dead_fraction"], "counting rule",
                "the mean of the layers' shares")


def test_dead_share_with_a_threshold_loses_the_item(wrong_b) -> None:
    _lost(wrong_b["dead_relus.dead_fraction"], "counting rule",
                "below a threshold, not exactly 0")


def test_recipe_without_zero_grad_loses_the_item(wrong_a) -> None:
    assert_lost(wrong_a["dead_relus.residual_fit"], "weights after training")


def test_recipe_one_epoch_short_loses_the_item(wrong_b) -> None:
    _lost(wrong_b["dead_relus.residual_fit"], "number of losses", "expected 5, found 4")


def test_stalled_without_the_margin_loses_the_item(wrong_a) -> None:
    assert_lost(wrong_a["dead_relus.diagnosis"], "stalled")


def test_dead_share_of_the_held_out_rows_loses_the_diagnosis(grader, wrong_b) -> None:
    _lost(wrong_b["dead_relus.diagnosis"], "broken_dead_fraction")
    # the hidden network with units dead on the training rows only tells it apart too
    message = _judge(grader, "dead_relus.diagnosis", WRONG_B["dead_relus.diagnosis"], only=(1,))
    assert message is not None and "some dead on the training rows only" in message
    assert "broken_dead_fraction is off" in message


def test_fix_that_keeps_the_output_relu_loses_the_item(wrong_b) -> None:
    _lost(wrong_b["dead_relus.fix"], f"at most {MARGIN} times the linear floor",
          "expected yes, found no")


def test_fix_rebuilt_untrained_later_loses_the_item_on_the_notebooks_own_run(wrong_a) -> None:
    # the fix cell itself is right (its cases pass); the network the notebook leaves is not
    assert_lost(wrong_a["dead_relus.fix"], "your trained fixed_model",
                "in your notebook's own run")


# --- more almost-right function answers, judged in-process -----------------------------------

def _dead_fraction(condition: str, reduce: str = "all", out: str = "dead / total") -> str:
    return (
        "def dead_relu_fraction(model, X):\n"
        "    dead = total = 0\n"
        "    h = X\n"
        "    with torch.no_grad():\n"
        "        for layer in model:\n"
        "            pre = h\n"
        "            h = layer(h)\n"
        "            if isinstance(layer, nn.ReLU):\n"
        f"                dead += int(({condition}).{reduce}(dim=0).sum())\n"
        "                total += h.shape[1]\n"
        f"    return {out} if total else 0.0\n"
    )


@pytest.mark.parametrize("source, words", [
    (_dead_fraction("pre < 0"), ("counting rule", "exactly 0 is dead")),
    (_dead_fraction("h == 0", reduce="any"), ("counting rule", "zero on some row")),
    (_dead_fraction("h == 0", out="100 * dead / total"), ("counting rule", "percentage")),
    (_dead_fraction("h == 0", out="dead"), ("counting rule", "a count of units")),
    # only ReLU layers followed by a Linear: the ReLU after the output unit is skipped
    (SOLUTION["dead_relus.dead_fraction"].replace(
        "isinstance(layer, nn.ReLU)", "isinstance(layer, nn.ReLU) and layer is not model[-1]"),
     ("hidden case", "a relu after the output unit", "dead shares")),
    # a network without nn.ReLU: a division by zero
    (SOLUTION["dead_relus.dead_fraction"].replace(" if total else 0.0", ""),
     ("hidden case", "without any nn.relu", "raised zerodivisionerror")),
], ids=["strict-pre-activation", "any-row", "percentage", "count", "skips-output-relu",
        "no-relu-divides-by-zero"])
def test_more_almost_right_dead_fractions_lose_the_item(grader, source, words) -> None:
    message = _judge(grader, "dead_relus.dead_fraction", source)
    assert message is not None
    assert all(w.lower() in message.lower() for w in words), message


def test_right_dead_fractions_written_otherwise_pass_in_process(grader) -> None:
    assert _judge(grader, "dead_relus.dead_fraction", SOLUTION["dead_relus.dead_fraction"]) is None
    assert _judge(grader, "dead_relus.dead_fraction", _dead_fraction("pre <= 0")) is None
    assert _judge(grader, "dead_relus.dead_fraction", CORRECT["dead_relus.dead_fraction"]) is None


@pytest.mark.parametrize("change, words", [
    ((").float()", ")"), ("type of r_train and r_test", "float64")),
    (("@ beta[:, None]).float()", "@ beta).float()"), ("shape of r_train", "expected (400, 1)")),
    ((".solution.ravel()", ".solution.ravel().roll(-1)"), ("beta, the intercept then",)),
], ids=["float64-residuals", "flat-residuals", "intercept-last"])
def test_more_almost_right_linear_fits_lose_the_item(grader, change, words) -> None:
    source = SOLUTION["dead_relus.linear_floor"].replace(*change)
    message = _judge(grader, "dead_relus.linear_floor", source)
    assert message is not None and all(w.lower() in message.lower() for w in words), message


@pytest.mark.parametrize("change, words", [
    (("losses.append(loss.item())", "losses.append(nn.functional.mse_loss(model(X), r).item())"),
     ("losses returned",)),
    (("torch.optim.Adam(model.parameters(), lr=lr)", "torch.optim.SGD(model.parameters(), lr=lr)"),
     ("weights after training",)),
    (("lr=lr)", "lr=0.01)"), ("hidden case", "weights after training")),
], ids=["loss-after-step", "sgd", "fixed-lr"])
def test_more_almost_right_recipes_lose_the_item(grader, change, words) -> None:
    source = SOLUTION["dead_relus.residual_fit"].replace(*change)
    message = _judge(grader, "dead_relus.residual_fit", source)
    assert message is not None and all(w.lower() in message.lower() for w in words), message


def test_stalled_against_the_floor_itself_loses_on_the_small_improvement(grader) -> None:
    source = SOLUTION["dead_relus.diagnosis"].replace("0.95 * linear_test_mse",
                                                      "linear_test_mse")
    message = _judge(grader, "dead_relus.diagnosis", source, only=(2,))
    assert message is not None and "removes only a small part of the floor" in message
    assert "stalled: found no, which is not right" in message


def test_diagnosis_reporting_a_root_mean_square_loses(grader) -> None:
    source = SOLUTION["dead_relus.diagnosis"].replace(
        "float(((r_test - broken_model(X_test)) ** 2).mean())",
        "float(((r_test - broken_model(X_test)) ** 2).mean().sqrt())")
    message = _judge(grader, "dead_relus.diagnosis", source)
    assert message is not None and "broken_test_mse" in message
