"""Exercise 04 (vanishing gradients): the reference is right, and the checks judge answers well.

The reference backward pass is pinned to PyTorch autograd in float64 on every chain the
checks use. Sample submissions are the blank notebook filled by item id: answers written
differently from the reference get full marks; the almost-right answers of EXERCISES.md §04
lose their item with a message that names what is off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nngrade.grader.grading.grade import Grader
from nngrade.reference import load_exercise
from nngrade.reference.vanishing import cases
from nngrade.reference.vanishing.solution import SOLUTION
from grading import given_source, grade_answers, items_of

EXERCISE = load_exercise("04_vanishing_gradients")


# --- the reference against PyTorch autograd ---------------------------------------------------

@pytest.fixture(scope="module")
def notebook_namespace() -> dict[str, Any]:
    """What the reference notebook defines: the reference cells and the notebook's given code."""
    ns: dict[str, Any] = {"np": np}
    exec("X_INPUT = 0.5\nY_TARGET = np.sin(0.5)\n", ns)
    given = given_source(EXERCISE, "def forward(")
    # the given cell also runs a small demo after its definitions; only the definitions matter
    exec(given.split("\nrng = ")[0], ns)
    for item in ("vanishing.sigmoid", "vanishing.relu", "vanishing.backward",
                 "vanishing.history"):
        exec(SOLUTION[item], ns)
    return ns


def _autograd_gradient(w: np.ndarray, b: np.ndarray, x: float, y: float,
                       activation: str) -> np.ndarray:
    """dC/dw of the chain computed by PyTorch autograd in float64."""
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64)
    f = torch.sigmoid if activation == "sigmoid" else torch.relu
    a = torch.tensor(x, dtype=torch.float64)
    for layer in range(1, len(w)):
        a = f(wt[layer] * a + bt[layer])
    cost = 0.5 * (a - y) ** 2
    cost.backward()
    return wt.grad.numpy()


def _backward_chains() -> list[dict[str, Any]]:
    """Every chain the backward item is checked on, and a few more."""
    checked = [dict(case.args) for case in EXERCISE.item("vanishing.backward").cases]
    extra = [{"L": L, "seed": 100 + L, "activation": act, "spread": spread}
             for L in (2, 3, 7, 16) for act in ("sigmoid", "relu")
             for spread in ("uniform", "normal")]
    return checked + extra


@pytest.mark.parametrize("chain", _backward_chains(),
                         ids=lambda c: f"{c['activation']}-L{c['L']}-seed{c['seed']}")
def test_reference_backward_equals_torch_autograd_in_float64(
        notebook_namespace: dict[str, Any], chain: dict[str, Any]) -> None:
    w, b = cases.chain(chain["L"], chain["seed"], chain.get("spread", "uniform"))
    x, y = chain.get("x", cases.X_INPUT), chain.get("y", cases.Y_TARGET)
    expected = _autograd_gradient(w, b, x, y, chain["activation"])
    reference = notebook_namespace["chain_gradients"](w.copy(), b.copy(), x, y,
                                                      activation=chain["activation"])
    np.testing.assert_allclose(reference, expected, rtol=1e-12, atol=0)
    # the grader's own backward pass, given to the training-loop cell, must agree too
    grader = cases.chain_gradients(w, b, x, y, activation=chain["activation"])
    np.testing.assert_allclose(grader, expected, rtol=1e-12, atol=0)


def test_backward_checks_cover_short_deep_sigmoid_and_relu_chains() -> None:
    chains = [case.args for case in EXERCISE.item("vanishing.backward").cases if case.hidden]
    depths = {c["L"] for c in chains}
    assert {2, 3, 12} <= depths
    assert {c["activation"] for c in chains} == {"sigmoid", "relu"}
    assert len({c["seed"] for c in chains}) == len(chains)


def test_given_forward_pass_is_the_one_the_grader_gives_to_cells(
        notebook_namespace: dict[str, Any]) -> None:
    for activation in ("sigmoid", "relu"):
        for spread in ("uniform", "normal"):
            w, b = cases.chain(9, 3, spread)
            mine = notebook_namespace["forward"](w, b, -0.7, activation)
            grader = cases.forward(w, b, -0.7, activation)
            np.testing.assert_array_equal(mine[0], grader[0])
            np.testing.assert_array_equal(mine[1], grader[1])


def test_reference_history_is_the_grader_training_loop(notebook_namespace: dict[str, Any]) -> None:
    for activation in ("sigmoid", "relu"):
        mine = notebook_namespace["train_chain"](7, 0.1, 25, 4, activation)
        grader = cases.train_with(7, 0.1, 25, 4, cases.activation_functions(activation))
        np.testing.assert_array_equal(mine, grader)


# --- grading sample submissions ---------------------------------------------------------------

def _lost(items: dict[str, Any], item_id: str) -> str:
    """The item failed (not an error) with no points; its message."""
    result = items[item_id]
    assert result.status == "failed" and result.score == 0, (result.status, result.message)
    return result.message


CORRECT_A = {
    "vanishing.sigmoid": (
        "from scipy.special import expit\n"
        "\n"
        "def sigmoid(x):\n"
        "    return expit(x)\n"
        "\n"
        "def sigmoid_prime(x):\n"
        "    return expit(x) * expit(-x)\n"
    ),
    "vanishing.max_sigmoid_prime": "max_sigmoid_prime = float(sigmoid_prime(0.0))\n",
    "vanishing.backward": (
        "def chain_gradients(w, b, x, y, activation=\"sigmoid\"):\n"
        "    f, fp = activation_functions(activation)\n"
        "    z, a = forward(w, b, x, activation)\n"
        "    L = len(w)\n"
        "\n"
        "    def delta(l):\n"
        "        if l == L - 1:\n"
        "            return (a[l] - y) * fp(z[l])\n"
        "        return delta(l + 1) * w[l + 1] * fp(z[l])\n"
        "\n"
        "    return np.array([0.0] + [float(delta(l) * a[l - 1]) for l in range(1, L)])\n"
    ),
    "vanishing.history": (
        "def train_chain(L, eta, n_epoch, seed, activation=\"sigmoid\"):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    w = rng.random(L)\n"
        "    b = rng.random(L)\n"
        "    rows = []\n"
        "    for _ in range(n_epoch):\n"
        "        g = chain_gradients(w, b, X_INPUT, Y_TARGET, activation=activation)\n"
        "        rows.append([abs(v) for v in g[1:]])\n"
        "        w = w - eta * g\n"
        "    return np.array(rows)\n"
    ),
    "vanishing.bound": "def gradient_ratio_bound(L):\n    return 4.0 ** (2 - L)\n",
    "vanishing.relu": (
        "def relu(x):\n"
        "    x = np.asarray(x, dtype=float)\n"
        "    return x * (x > 0)\n"
        "\n"
        "def relu_prime(x):\n"
        "    return np.heaviside(x, 0.0)\n"
    ),
}

CORRECT_B = {
    "vanishing.sigmoid": (
        "def sigmoid(x):\n"
        "    # tanh saturates instead of overflowing\n"
        "    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))\n"
        "\n"
        "def sigmoid_prime(x):\n"
        "    s = sigmoid(x)\n"
        "    return s - s * s\n"
    ),
    "vanishing.max_sigmoid_prime": (
        "grid = np.linspace(-10, 10, 20001)\n"
        "max_sigmoid_prime = sigmoid_prime(grid).max()\n"
    ),
    "vanishing.backward": (
        "def chain_gradients(w, b, x, y, activation=\"sigmoid\"):\n"
        "    f, fp = activation_functions(activation)\n"
        "    zs, acts = [], [x]\n"
        "    for l in range(1, len(w)):\n"
        "        zs.append(w[l] * acts[-1] + b[l])\n"
        "        acts.append(f(zs[-1]))\n"
        "    errors = [(acts[-1] - y) * fp(zs[-1])]\n"
        "    for l in range(len(w) - 2, 0, -1):\n"
        "        errors.append(errors[-1] * w[l + 1] * fp(zs[l - 1]))\n"
        "    errors.reverse()\n"
        "    grads = [e * a for e, a in zip(errors, acts[:-1])]\n"
        "    return np.concatenate([[0.0], np.ravel(grads)])\n"
    ),
    "vanishing.history": (
        "def train_chain(L, eta, n_epoch, seed, activation=\"sigmoid\"):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    weights = rng.random(L)\n"
        "    biases = rng.random(L)\n"
        "    w = weights.copy()\n"
        "    history = np.empty((n_epoch, L - 1))\n"
        "    for epoch in range(n_epoch):\n"
        "        grad = chain_gradients(w, biases, 0.5, np.sin(0.5), activation)\n"
        "        history[epoch, :] = np.sqrt(grad[1:] ** 2)\n"
        "        w -= eta * grad\n"
        "    return history\n"
    ),
    "vanishing.bound": (
        "def gradient_ratio_bound(L):\n"
        "    return float(np.prod(np.full(L - 2, 0.25)))\n"
    ),
    "vanishing.relu": (
        "def relu(x):\n"
        "    return np.where(np.asarray(x) > 0, x, 0.0)\n"
        "\n"
        "def relu_prime(x):\n"
        "    return (np.asarray(x) > 0).astype(float)\n"
    ),
}

# The almost-right answers of EXERCISES.md §04, spread over notebooks (items are graded
# independently of each other).
WRONG_A = {
    "vanishing.sigmoid": (
        "def sigmoid(x):\n"
        "    return 1 / (1 + np.exp(-x))\n"
        "\n"
        "def sigmoid_prime(x):\n"
        "    return sigmoid(x) * (1 - sigmoid(x))\n"
    ),
    "vanishing.backward": (  # the course's loop, started at sqrt(2C)
        "def chain_gradients(w, b, x, y, activation=\"sigmoid\"):\n"
        "    f, f_prime = activation_functions(activation)\n"
        "    z, a = forward(w, b, x, activation)\n"
        "    L = len(w)\n"
        "    C = 0.5 * (a[L - 1] - y) ** 2\n"
        "    delta = np.zeros(L)\n"
        "    delta[L - 1] = np.sqrt(2 * C)\n"
        "    for l in range(L - 2, 0, -1):\n"
        "        delta[l] = w[l + 1] * delta[l + 1] * f_prime(z[l])\n"
        "    grad = np.zeros(L)\n"
        "    grad[1:] = delta[1:] * a[:-1]\n"
        "    return grad\n"
    ),
    "vanishing.history": (  # layers 0..L-1: the input layer's column included
        "def train_chain(L, eta, n_epoch, seed, activation=\"sigmoid\"):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    w = rng.random(L)\n"
        "    b = rng.random(L)\n"
        "    history = np.zeros((n_epoch, L))\n"
        "    for epoch in range(n_epoch):\n"
        "        grad = chain_gradients(w, b, X_INPUT, Y_TARGET, activation)\n"
        "        history[epoch] = np.abs(grad)\n"
        "        w = w - eta * grad\n"
        "    return history\n"
    ),
    "vanishing.bound": "def gradient_ratio_bound(L):\n    return 0.25 ** L\n",
    "vanishing.relu": (  # slope 1 at exactly 0, where the notebook says 0
        "def relu(x):\n"
        "    return np.maximum(x, 0.0)\n"
        "\n"
        "def relu_prime(x):\n"
        "    return (x >= 0).astype(float)\n"
    ),
}

WRONG_B = {
    "vanishing.sigmoid": (  # stable sigmoid, derivative with the wrong sign inside
        "def sigmoid(x):\n"
        "    x = np.asarray(x, dtype=float)\n"
        "    e = np.exp(-np.abs(x))\n"
        "    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))\n"
        "\n"
        "def sigmoid_prime(x):\n"
        "    s = sigmoid(x)\n"
        "    return s * (1 + s)\n"
    ),
    "vanishing.backward": (  # the output error without the output's derivative
        "def chain_gradients(w, b, x, y, activation=\"sigmoid\"):\n"
        "    f, f_prime = activation_functions(activation)\n"
        "    z, a = forward(w, b, x, activation)\n"
        "    L = len(w)\n"
        "    delta = np.zeros(L)\n"
        "    delta[L - 1] = a[L - 1] - y\n"
        "    for l in range(L - 2, 0, -1):\n"
        "        delta[l] = w[l + 1] * delta[l + 1] * f_prime(z[l])\n"
        "    grad = np.zeros(L)\n"
        "    grad[1:] = delta[1:] * a[:-1]\n"
        "    return grad\n"
    ),
    "vanishing.history": (  # one row per layer instead of one per epoch
        "def train_chain(L, eta, n_epoch, seed, activation=\"sigmoid\"):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    w = rng.random(L)\n"
        "    b = rng.random(L)\n"
        "    history = np.zeros((L - 1, n_epoch))\n"
        "    for epoch in range(n_epoch):\n"
        "        grad = chain_gradients(w, b, X_INPUT, Y_TARGET, activation)\n"
        "        history[:, epoch] = np.abs(grad[1:])\n"
        "        w = w - eta * grad\n"
        "    return history\n"
    ),
    "vanishing.relu": (  # relu right, its derivative is relu itself
        "def relu(x):\n"
        "    return np.maximum(x, 0.0)\n"
        "\n"
        "def relu_prime(x):\n"
        "    return np.maximum(x, 0.0)\n"
    ),
}

WRONG_C = {
    "vanishing.sigmoid": (  # branches with np.where, but both are evaluated everywhere
        "def sigmoid(x):\n"
        "    x = np.asarray(x, dtype=float)\n"
        "    return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))\n"
        "\n"
        "def sigmoid_prime(x):\n"
        "    s = sigmoid(x)\n"
        "    return s * (1 - s)\n"
    ),
    "vanishing.backward": (  # right for the sigmoid, ignores the activation argument
        "def chain_gradients(w, b, x, y, activation=\"sigmoid\"):\n"
        "    z, a = forward(w, b, x, \"sigmoid\")\n"
        "    L = len(w)\n"
        "    delta = np.zeros(L)\n"
        "    delta[L - 1] = (a[L - 1] - y) * sigmoid_prime(z[L - 1])\n"
        "    for l in range(L - 2, 0, -1):\n"
        "        delta[l] = w[l + 1] * delta[l + 1] * sigmoid_prime(z[l])\n"
        "    grad = np.zeros(L)\n"
        "    grad[1:] = delta[1:] * a[:-1]\n"
        "    return grad\n"
    ),
    "vanishing.history": (  # the row recorded after the update
        "def train_chain(L, eta, n_epoch, seed, activation=\"sigmoid\"):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    w = rng.random(L)\n"
        "    b = rng.random(L)\n"
        "    history = np.zeros((n_epoch, L - 1))\n"
        "    for epoch in range(n_epoch):\n"
        "        w = w - eta * chain_gradients(w, b, X_INPUT, Y_TARGET, activation)\n"
        "        grad = chain_gradients(w, b, X_INPUT, Y_TARGET, activation)\n"
        "        history[epoch] = np.abs(grad[1:])\n"
        "    return history\n"
    ),
    "vanishing.max_sigmoid_prime": "max_sigmoid_prime = 0.5\n",
}


@pytest.fixture(scope="module")
def wrong_a(grader: Grader, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return items_of(grade_answers(
        grader, EXERCISE, tmp_path_factory.mktemp("wrong_a"), WRONG_A))


@pytest.fixture(scope="module")
def wrong_b(grader: Grader, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return items_of(grade_answers(
        grader, EXERCISE, tmp_path_factory.mktemp("wrong_b"), WRONG_B))


# A right answer graded in WRONG_C's notebook, whose relu cell is free (one notebook less).
RIGHT_IN_C = {
    "vanishing.relu": (  # np.where on the raw input: a Python float gives a 0-d array
        "def relu(x):\n"
        "    return np.maximum(x, 0)\n"
        "\n"
        "def relu_prime(x):\n"
        "    return np.where(x > 0, 1.0, 0.0)\n"
    ),
}


@pytest.fixture(scope="module")
def wrong_c(grader: Grader, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return items_of(grade_answers(
        grader, EXERCISE, tmp_path_factory.mktemp("wrong_c"), {**WRONG_C, **RIGHT_IN_C}))


@pytest.mark.parametrize("answers", [CORRECT_A, CORRECT_B], ids=["expit-recursive",
                                                                  "tanh-lists"])
def test_answers_written_differently_get_full_marks(grader: Grader, tmp_path: Path,
                                                    answers: dict[str, str]) -> None:
    report = grade_answers(grader, EXERCISE, tmp_path, answers)
    lost = {i.id: i.message for i in report.items if i.status not in ("passed", "manual")}
    assert lost == {}
    assert report.score == report.max_score == EXERCISE.max_score
    assert not report.cell_errors


def test_naive_sigmoid_loses_its_item_because_it_overflows(wrong_a: dict[str, Any]) -> None:
    message = _lost(wrong_a, "vanishing.sigmoid")
    assert "overflows" in message and "sigmoid(x)" in message


def test_np_where_sigmoid_that_exponentiates_both_branches_overflows(
        wrong_c: dict[str, Any]) -> None:
    assert "overflows" in _lost(wrong_c, "vanishing.sigmoid")


def test_sigmoid_prime_with_a_plus_sign_is_named(wrong_b: dict[str, Any]) -> None:
    message = _lost(wrong_b, "vanishing.sigmoid")
    assert message.startswith("on 13 values from -1000 to 1000: sigmoid_prime(x)")


def test_course_loop_starting_at_sqrt_2c_loses_the_sign(wrong_a: dict[str, Any]) -> None:
    message = _lost(wrong_a, "vanishing.backward")
    assert "the sign of dC/dw[L-1]" in message and "found (1, 1)" in message
    assert "hidden" not in message  # caught on the visible chain, with what was expected
    assert "sqrt(2C)" in wrong_a["vanishing.backward"].hint


def test_output_error_without_the_derivative_is_named(wrong_b: dict[str, Any]) -> None:
    message = _lost(wrong_b, "vanishing.backward")
    assert "the output's derivative, the factor f'(z[L-1])" in message and "found 1 " in message
    assert "f'(z[L-1])" in wrong_b["vanishing.backward"].hint


def test_backward_pass_that_ignores_the_activation_fails_a_hidden_relu_chain(
        wrong_c: dict[str, Any]) -> None:
    message = _lost(wrong_c, "vanishing.backward")
    assert message.startswith("on a hidden case (a 4-layer ReLU chain)")


def test_history_over_layers_zero_to_last_has_the_wrong_shape(wrong_a: dict[str, Any]) -> None:
    message = _lost(wrong_a, "vanishing.history")
    assert "the shape of the history" in message and "found (20, 5)" in message
    assert "layer 0 is the input" in wrong_a["vanishing.history"].hint


def test_history_with_a_row_per_layer_has_the_wrong_shape(wrong_b: dict[str, Any]) -> None:
    message = _lost(wrong_b, "vanishing.history")
    assert "the shape of the history" in message and "found (4, 20)" in message


def test_history_recorded_after_the_update_is_named(wrong_c: dict[str, Any]) -> None:
    message = _lost(wrong_c, "vanishing.history")
    assert "the first row of the history" in message
    assert "before updating" in wrong_c["vanishing.history"].hint


def test_bound_with_one_factor_per_layer_is_off(wrong_a: dict[str, Any]) -> None:
    message = _lost(wrong_a, "vanishing.bound")
    assert message.startswith("on L = 2, 3, 5 and 10: gradient_ratio_bound(L): expected")
    assert "L - 2 factors" in wrong_a["vanishing.bound"].hint


def test_relu_prime_that_returns_relu_is_named(wrong_b: dict[str, Any]) -> None:
    assert "relu_prime(x)" in _lost(wrong_b, "vanishing.relu")


def test_relu_prime_with_slope_1_at_exactly_0_loses_the_item_naming_the_value_at_0(
        wrong_a: dict[str, Any]) -> None:
    message = _lost(wrong_a, "vanishing.relu")
    assert message.startswith("on a hidden case (a 3x4 array with exact zeros")
    assert "relu_prime(x) at the inputs that are exactly 0" in message
    assert "found [1., 1., 1., 1., 1., 1.], which is not right" in message
    assert "x >= 0 is off at 0" in wrong_a["vanishing.relu"].hint


def test_relu_prime_that_is_0_at_exactly_0_gets_the_item(wrong_c: dict[str, Any]) -> None:
    # np.where(x > 0, 1.0, 0.0) here; np.heaviside(x, 0.0) in CORRECT_A
    assert wrong_c["vanishing.relu"].status == "passed", wrong_c["vanishing.relu"].message
    assert "np.heaviside(x, 0.0)" in CORRECT_A["vanishing.relu"]


def test_relu_hidden_cases_hold_exact_zeros_a_scalar_zero_and_history_a_single_epoch() -> None:
    kinds = [case.args["kind"] for case in EXERCISE.item("vanishing.relu").cases if case.hidden]
    assert {"zeros", "zero_scalar"} <= set(kinds)
    zeros = cases._inputs("zeros")
    assert np.any(zeros == 0) and np.any(np.signbit(zeros) & (zeros == 0))  # 0.0 and -0.0
    epochs = [case.args["n_epoch"] for case in EXERCISE.item("vanishing.history").cases]
    assert 1 in epochs


def test_wrong_maximum_slope_is_named(wrong_c: dict[str, Any]) -> None:
    assert "max_sigmoid_prime" in _lost(wrong_c, "vanishing.max_sigmoid_prime")


def test_almost_right_answers_cost_only_their_ownitems_of(wrong_a: dict[str, Any],
                                                         wrong_b: dict[str, Any],
                                                         wrong_c: dict[str, Any]) -> None:
    for items, answers in ((wrong_a, WRONG_A), (wrong_b, WRONG_B), (wrong_c, WRONG_C)):
        passed = {i for i, r in items.items() if r.status == "passed"}
        assert passed == {item.id for item in EXERCISE.items if not item.manual} - set(answers)

