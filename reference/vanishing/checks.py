"""The check declaration of exercise 04: items, points, inputs, hidden cases, tolerances.

Expected values are never written here: every comparison is against what the reference cell
(``solution.py``) produces from the same inputs, through the same sandbox. The reference's
backward pass equals PyTorch autograd in float64 on every chain below (pinned by a test).
"""

from nngrade.grader.spec import Case, Exercise, Expect, Item
from nngrade.reference.vanishing.solution import SOLUTION

# Sigmoid values reach 1e-300 and below; atol 1e-12 accepts any accurate formula there while
# rtol 1e-9 still checks every value of order one to nine digits.
_ELEMENTWISE = {"rtol": 1e-9, "atol": 1e-12}

_SIGMOID_HINT = ("Compute e^(-|x|), which is at most 1, and use 1/(1+e) for x >= 0 and e/(1+e) "
                 "for x < 0 (np.where), or scipy.special.expit. sigmoid'(x) = "
                 "sigmoid(x) * (1 - sigmoid(x)).")

_BACKWARD_HINT = ("delta[L-1] = (a[L-1] - y) * f'(z[L-1]); for l = L-2 down to 1: "
                  "delta[l] = w[l+1] * delta[l+1] * f'(z[l]); then dC/dw[l] = delta[l] * a[l-1] "
                  "for l >= 1, and 0 for the input layer l = 0.")

_HISTORY_HINT = ("Draw w = rng.random(L), then b = rng.random(L); each epoch compute the "
                 "gradient with chain_gradients, store np.abs(grad[1:]) as that epoch's row, "
                 "then update w = w - eta * grad.")


def _backward_case(describe: str, L: int, seed: int, activation: str, *, hidden: bool = True,
                   **extra: object) -> Case:
    return Case("build_activations", "probe_backward", describe, hidden=hidden,
                args={"L": L, "seed": seed, "activation": activation, **extra})


def _history_case(describe: str, L: int, eta: float, n_epoch: int, seed: int, activation: str,
                  *, hidden: bool = True) -> Case:
    return Case("build_training", "probe_history", describe, hidden=hidden,
                args={"L": L, "eta": eta, "n_epoch": n_epoch, "seed": seed,
                      "activation": activation})


ITEMS = (
    Item(
        id="vanishing.sigmoid",
        points=2,
        writes=("sigmoid", "sigmoid_prime"),
        cases=(
            Case("build_nothing", "probe_sigmoid", "13 values from -1000 to 1000",
                 args={"kind": "wide"}),
            Case("build_nothing", "probe_sigmoid",
                 "a 4x6 array of values of both signs with magnitudes from 0.001 to 1000",
                 hidden=True, args={"kind": "mixed_2d", "seed": 5}),
            Case("build_nothing", "probe_sigmoid", "a single Python float", hidden=True,
                 args={"kind": "scalar", "seed": 6}),
        ),
        expects=(
            Expect("sigmoid", "sigmoid(x)", **_ELEMENTWISE,
                   hint="sigmoid(x) = 1 / (1 + e^(-x)), computed without ever forming "
                        "e^(large positive number)"),
            Expect("sigmoid_prime", "sigmoid_prime(x)", **_ELEMENTWISE,
                   hint="sigmoid'(x) = sigmoid(x) * (1 - sigmoid(x)): a minus sign, and the "
                        "largest value is 0.25 at x = 0"),
        ),
        hint=_SIGMOID_HINT,
    ),
    Item(
        id="vanishing.max_sigmoid_prime",
        points=1,
        reads=("sigmoid", "sigmoid_prime"),
        writes=("max_sigmoid_prime",),
        cases=(
            Case("build_activations", "probe_number", "your cell",
                 args={"name": "max_sigmoid_prime"}),
        ),
        expects=(
            Expect("value", "max_sigmoid_prime, the largest value of sigmoid'(x)", rtol=1e-6,
                   hint="sigmoid' = s(1 - s) with s = sigmoid(x) in (0, 1): where is s(1 - s) "
                        "largest, and what is it there?"),
        ),
        hint="Maximise s(1 - s) over s in (0, 1).",
    ),
    Item(
        id="vanishing.backward",
        points=2,
        reads=("activation_functions", "forward", "sigmoid", "sigmoid_prime", "relu",
               "relu_prime"),
        writes=("chain_gradients",),
        cases=(
            _backward_case("the notebook's 5-layer sigmoid chain (seed 0)", 5, 0, "sigmoid",
                           hidden=False),
            _backward_case("a 2-layer sigmoid chain (one neuron after the input)", 2, 1,
                           "sigmoid"),
            _backward_case("a 3-layer sigmoid chain", 3, 2, "sigmoid"),
            _backward_case("a 12-layer sigmoid chain, whose first gradients are tiny", 12, 3,
                           "sigmoid"),
            _backward_case("a 6-layer sigmoid chain with weights of both signs, another input "
                           "and another target", 6, 4, "sigmoid", spread="normal",
                           x=-1.3, y=0.9),
            _backward_case("a 4-layer ReLU chain", 4, 5, "relu"),
            _backward_case("an 8-layer ReLU chain with weights of both signs, some neurons "
                           "inactive", 8, 14, "relu", spread="normal"),
        ),
        expects=(
            Expect("output_sign", "the sign of dC/dw[L-1] (the output layer) for a target "
                                  "far below the output and one far above it", rule="equal",
                   hint="the output error must keep the sign of a[L-1] - y: sqrt(2C) = "
                        "|a[L-1] - y| throws the sign away (and the activation's slope with "
                        "it); start from delta[L-1] = (a[L-1] - y) * f'(z[L-1])"),
            Expect("output_factor", "the output's derivative, the factor f'(z[L-1]) in "
                                    "dC/dw[L-1] = (a[L-1] - y) * f'(z[L-1]) * a[L-2]",
                   rtol=1e-9,
                   hint="the output error is delta[L-1] = (a[L-1] - y) * f'(z[L-1]): the "
                        "derivative of the output's activation is part of it; take f' from "
                        "activation_functions(activation), so that a ReLU chain uses "
                        "relu_prime"),
            Expect("gradient", "dC/dw for every layer", rtol=1e-9,
                   hint=_BACKWARD_HINT),
        ),
        hint=_BACKWARD_HINT,
    ),
    Item(
        id="vanishing.history",
        points=2,
        reads=("chain_gradients", "X_INPUT", "Y_TARGET"),
        writes=("train_chain",),
        cases=(
            _history_case("a 5-layer sigmoid chain trained for 20 epochs", 5, 0.5, 20, 0,
                          "sigmoid", hidden=False),
            _history_case("a 2-layer sigmoid chain trained for 10 epochs", 2, 1.0, 10, 1,
                          "sigmoid"),
            _history_case("a 9-layer sigmoid chain trained for 40 epochs", 9, 0.5, 40, 2,
                          "sigmoid"),
            _history_case("a 6-layer ReLU chain trained for 30 epochs", 6, 0.05, 30, 3, "relu"),
            _history_case("a 3-layer sigmoid chain trained for a single epoch", 3, 0.5, 1, 4,
                          "sigmoid"),
        ),
        expects=(
            Expect("shape", "the shape of the history returned by train_chain", rule="equal",
                   hint="one row per epoch and one column per layer 1, ..., L-1 (layer 0 is "
                        "the input and has no weight): shape (n_epoch, L - 1)"),
            Expect("magnitudes", "whether every entry of the history is a magnitude (>= 0)",
                   rule="equal", hint="store the absolute values |dC/dw[l]| (np.abs)"),
            Expect("first_row", "the first row of the history (the gradients of the initial "
                                "weights)", rtol=1e-9,
                   hint="draw the weights first, then the biases, from "
                        "np.random.default_rng(seed); record each row before updating w"),
            Expect("history", "the history of gradient magnitudes", rtol=1e-9,
                   hint=_HISTORY_HINT),
        ),
        hint=_HISTORY_HINT,
    ),
    Item(
        id="vanishing.bound",
        points=1,
        writes=("gradient_ratio_bound",),
        cases=(
            Case("build_nothing", "probe_bound", "L = 2, 3, 5 and 10",
                 args={"depths": [2, 3, 5, 10]}),
            Case("build_nothing", "probe_bound", "four other depths, up to 40", hidden=True,
                 args={"depths": [4, 7, 20, 40]}),
        ),
        expects=(
            Expect("values", "gradient_ratio_bound(L)", rtol=1e-12,
                   hint="between layer 1 and layer L-1 there are L - 2 factors "
                        "w[l+1] * sigmoid'(z[l]), each at most 1/4: with L = 2 the ratio is "
                        "a gradient divided by itself"),
        ),
        hint="Count the factors w * sigmoid'(z) between layer 1 and layer L-1.",
    ),
    Item(
        id="vanishing.relu",
        points=1,
        writes=("relu", "relu_prime"),
        cases=(
            Case("build_nothing", "probe_relu",
                 "six values from -3 to 3, and a 6-layer ReLU chain trained for 30 epochs",
                 args={"kind": "small", "seed": 0, "L": 6, "eta": 0.05, "n_epoch": 30}),
            Case("build_nothing", "probe_relu",
                 "a 3x5 array of values of both signs, and a 9-layer ReLU chain trained for "
                 "40 epochs", hidden=True,
                 args={"kind": "small_2d", "seed": 7, "L": 9, "eta": 0.05, "n_epoch": 40}),
            Case("build_nothing", "probe_relu",
                 "a 3x4 array with exact zeros (0.0 and -0.0) among values of both signs, and "
                 "a 5-layer ReLU chain trained for 20 epochs", hidden=True,
                 args={"kind": "zeros", "seed": 8, "L": 5, "eta": 0.05, "n_epoch": 20}),
            Case("build_nothing", "probe_relu",
                 "the Python float 0.0, and a 4-layer ReLU chain trained for 10 epochs",
                 hidden=True,
                 args={"kind": "zero_scalar", "seed": 9, "L": 4, "eta": 0.05, "n_epoch": 10}),
        ),
        expects=(
            Expect("relu", "relu(x)", **_ELEMENTWISE, hint="relu(x) = max(x, 0), elementwise"),
            Expect("at_zero", "relu_prime(x) at the inputs that are exactly 0, where the "
                              "notebook takes the slope as 0", rule="equal",
                   hint="max(x, 0) has no slope at exactly 0 and the notebook takes it as 0 "
                        "there: 1 only where x > 0 (strictly), so x >= 0 is off at 0"),
            Expect("relu_prime", "relu_prime(x)", **_ELEMENTWISE,
                   hint="the slope of max(x, 0): 1 where x > 0, 0 where x < 0, and 0 at "
                        "exactly 0 (the notebook's convention)"),
            Expect("history", "the gradient history of the ReLU chain trained with your "
                              "functions", rtol=1e-9),
        ),
        hint="relu(x) = max(x, 0) elementwise (np.maximum); its slope is 1 where x > 0 and "
             "0 where x < 0, and the notebook takes it as 0 at exactly 0.",
    ),
    Item(id="vanishing.relu_why", points=0, manual=True),
)

EXERCISE = Exercise(
    stem="04_vanishing_gradients",
    title="Vanishing gradients in a deep chain (NumPy)",
    items=ITEMS,
    cases_module="nngrade.reference.vanishing.cases",
    solution=SOLUTION,
    preamble=(
        "import numpy as np\n"
        "import matplotlib.pyplot as plt\n"
    ),
    preload=("numpy", "matplotlib.pyplot"),
)
