"""Inputs and probes for exercise 04, run inside the sandbox.

``build_*`` functions return the names a cell reads; ``probe_*`` functions call what the cell
defined on grader-chosen inputs and return plain data. Nothing here knows the expected answers:
those come from running the reference cell through the same functions.

A cell that builds on earlier parts of the notebook (the backward pass uses ``sigmoid``, the
training loop uses ``chain_gradients``) is given the grader's own correct versions of them, so
a mistake in one item costs that item only. Those helpers, and the ``forward`` pass, are the
notebook's given code written out again here (tests pin that both behave the same).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from nngrade.grader.probes import ProbeError, attempt, build_nothing

X_INPUT = 0.5
Y_TARGET = float(np.sin(0.5))
_FAR = 100.0  # a target this far from y lies beyond any output of the probed chains

Pair = tuple[Callable[[Any], Any], Callable[[Any], Any]]


# --- the notebook's given code, and correct versions of earlier items ------------------------

def _sigmoid(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_prime(x: Any) -> np.ndarray:
    return _sigmoid(x) * _sigmoid(-np.asarray(x, dtype=float))


def _relu(x: Any) -> np.ndarray:
    return np.maximum(x, 0.0)


def _relu_prime(x: Any) -> np.ndarray:
    return np.where(np.asarray(x) > 0, 1.0, 0.0)


_PAIRS: dict[str, Pair] = {"sigmoid": (_sigmoid, _sigmoid_prime), "relu": (_relu, _relu_prime)}


def activation_functions(name: str) -> Pair:
    """The activation and its derivative, by name (the notebook's given helper)."""
    if name not in _PAIRS:
        raise ValueError(f"unknown activation {name!r}: use 'sigmoid' or 'relu'")
    return _PAIRS[name]


def forward_with(w: np.ndarray, b: np.ndarray, x: float, f: Callable[[Any], Any]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Pre-activations z and activations a of every layer; layer 0 is the input (a[0] = x)."""
    L = len(w)
    z, a = np.zeros(L), np.zeros(L)
    a[0] = x
    for l in range(1, L):
        z[l] = w[l] * a[l - 1] + b[l]
        a[l] = f(z[l])
    return z, a


def forward(w: np.ndarray, b: np.ndarray, x: float, activation: str = "sigmoid"
            ) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's given forward pass."""
    return forward_with(w, b, x, activation_functions(activation)[0])


def gradients_with(w: np.ndarray, b: np.ndarray, x: float, y: float, pair: Pair) -> np.ndarray:
    """dC/dw of every layer for the cost (a_out - y)^2 / 2; entry 0 (the input) is 0."""
    f, f_prime = pair
    z, a = forward_with(w, b, x, f)
    L = len(w)
    delta = np.zeros(L)
    delta[L - 1] = (a[L - 1] - y) * f_prime(z[L - 1])
    for l in range(L - 2, 0, -1):
        delta[l] = w[l + 1] * delta[l + 1] * f_prime(z[l])
    grad = np.zeros(L)
    grad[1:] = delta[1:] * a[:-1]
    return grad


def chain_gradients(w: np.ndarray, b: np.ndarray, x: float, y: float,
                    activation: str = "sigmoid") -> np.ndarray:
    """A correct backward pass, given to the training-loop cell."""
    return gradients_with(w, b, x, y, activation_functions(activation))


def train_with(L: int, eta: float, n_epoch: int, seed: int, pair: Pair) -> np.ndarray:
    """|dC/dw_l| for l = 1..L-1 before each update of plain gradient descent on the weights."""
    rng = np.random.default_rng(seed)
    w, b = rng.random(L), rng.random(L)
    history = np.zeros((n_epoch, L - 1))
    for epoch in range(n_epoch):
        grad = gradients_with(w, b, X_INPUT, Y_TARGET, pair)
        history[epoch] = np.abs(grad[1:])
        w = w - eta * grad
    return history


def chain(L: int, seed: int, spread: str = "uniform") -> tuple[np.ndarray, np.ndarray]:
    """The weights and biases of a chain: the notebook's draw, or weights of both signs."""
    rng = np.random.default_rng(seed)
    if spread == "uniform":
        return rng.random(L), rng.random(L)
    return rng.normal(0.0, 1.5, L), rng.normal(0.0, 1.0, L)


def _helpers(with_backward: bool) -> dict[str, Any]:
    names: dict[str, Any] = {
        "sigmoid": _sigmoid, "sigmoid_prime": _sigmoid_prime,
        "relu": _relu, "relu_prime": _relu_prime,
        "activation_functions": activation_functions, "forward": forward,
        "X_INPUT": X_INPUT, "Y_TARGET": Y_TARGET,
    }
    if with_backward:
        names["chain_gradients"] = chain_gradients
    return names


# --- builders --------------------------------------------------------------------------------


def build_activations(**_: Any) -> dict[str, Any]:
    """Correct sigmoid and relu (with derivatives) and the notebook's given helpers."""
    return _helpers(with_backward=False)


def build_training(**_: Any) -> dict[str, Any]:
    """Everything the training loop uses, a correct ``chain_gradients`` included."""
    return _helpers(with_backward=True)


# --- vanishing.sigmoid, vanishing.relu: elementwise functions --------------------------------

def _inputs(kind: str, seed: int = 0) -> Any:
    """The inputs an elementwise function is probed on; the kinds are named in checks.py."""
    if kind == "wide":
        # moderate values first: a message about a wrong answer shows the first few
        return np.array([0.0, 1.0, -1.0, 1e-9, -1e-9, 40.0, -40.0, 100.0, -100.0,
                         750.0, -750.0, 1000.0, -1000.0])
    if kind == "mixed_2d":
        rng = np.random.default_rng(seed)
        scale = 10.0 ** rng.uniform(-3, 3, (4, 6))
        return rng.choice([-1.0, 1.0], (4, 6)) * scale
    if kind == "scalar":
        return float(np.random.default_rng(seed).uniform(-6, 6))
    if kind == "small":
        return np.array([-3.0, -0.5, -1e-9, 1e-9, 0.5, 3.0])
    if kind == "small_2d":
        rng = np.random.default_rng(seed)
        values = rng.normal(0.0, 2.0, (3, 5))
        return np.where(values == 0.0, 0.5, values)  # the derivative at exactly 0 is a convention
    if kind == "zeros":
        # the convention the notebook states: the slope at exactly 0 (and at -0.0) is 0
        return np.array([[-2.0, 0.0, 1.5, -0.0],
                         [0.0, 3.0, -0.5, 0.0],
                         [1e-9, -0.0, 0.0, -1e-9]])
    if kind == "zero_scalar":
        return 0.0
    raise ValueError(f"unknown input kind {kind!r}")


def _strict_call(ns: dict[str, Any], name: str, x: Any) -> np.ndarray:
    """``ns[name](x)`` as a float array, with overflow and invalid values made errors.

    Underflow (e^-1000 rounding to 0) is fine; overflow, and the nan of inf / inf, are what
    a naive 1 / (1 + exp(-x)) or exp(x) / (1 + exp(x)) produces on inputs of large magnitude.
    """
    fn = ns[name]
    if not callable(fn):
        raise ProbeError(f"`{name}` should be a function, found {type(fn).__name__}")
    arg = x.copy() if isinstance(x, np.ndarray) else x

    def strict() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
                try:
                    return fn(arg)
                except (FloatingPointError, RuntimeWarning, OverflowError) as exc:
                    raise ProbeError(_instability(name, exc)) from None

    out = attempt(f"{name}(x)", strict)
    if out is None:
        raise ProbeError(f"{name}(x) returned None: return the result")
    values = attempt(f"turning what {name}(x) returned into a float array",
                     lambda: np.asarray(out, dtype=float))
    if values.shape != np.shape(x):
        raise ProbeError(f"{name}(x) returned shape {values.shape} for an input of shape "
                         f"{np.shape(x)}: it should work elementwise and keep the shape")
    return values


def _instability(name: str, exc: BaseException) -> str:
    """The sentence for a floating-point error raised inside a student's function."""
    reported = str(exc)[:100]
    if "overflow" in reported.lower():
        return (f"{name}(x) overflows on inputs of large magnitude: numpy reported "
                f"\"{reported}\". e^(-x) is far beyond the float range for large negative x "
                "(and e^x for large positive x): only ever exponentiate -|x|")
    return (f"{name}(x) is not numerically stable on inputs of large magnitude: numpy "
            f"reported \"{reported}\" (an inf or nan appeared along the way)")


def probe_sigmoid(ns: dict[str, Any], kind: str, seed: int = 0, **_: Any) -> dict[str, Any]:
    """sigmoid and sigmoid_prime on one input, overflow made an error."""
    x = _inputs(kind, seed)
    return {"sigmoid": _strict_call(ns, "sigmoid", x),
            "sigmoid_prime": _strict_call(ns, "sigmoid_prime", x)}


def probe_relu(ns: dict[str, Any], kind: str, seed: int = 0, L: int = 6, eta: float = 0.05,
               n_epoch: int = 30, **_: Any) -> dict[str, Any]:
    """relu and relu_prime on one input, and the history of a ReLU chain trained with them."""
    x = _inputs(kind, seed)
    relu, relu_prime = ns["relu"], ns["relu_prime"]
    slopes = _strict_call(ns, "relu_prime", x)
    observation = {"relu": _strict_call(ns, "relu", x),
                   # the slopes at the inputs that are exactly 0 (none for most kinds): the
                   # value there is the notebook's convention, not a limit
                   "at_zero": slopes[np.asarray(x) == 0].ravel(),
                   "relu_prime": slopes}
    history = attempt("training a ReLU chain with your relu and relu_prime",
                      lambda: train_with(L, eta, n_epoch, seed, (relu, relu_prime)))
    observation["history"] = history
    return observation


# --- vanishing.max_sigmoid_prime -------------------------------------------------------------

def probe_number(ns: dict[str, Any], name: str, **_: Any) -> dict[str, Any]:
    """One number the cell assigned."""
    value = ns[name]
    number = attempt(f"float({name})", lambda: float(value))
    return {"value": number}


# --- vanishing.backward ----------------------------------------------------------------------

def _student_gradient(ns: dict[str, Any], w: np.ndarray, b: np.ndarray, x: float, y: float,
                      activation: str) -> np.ndarray:
    fn = ns["chain_gradients"]
    if not callable(fn):
        raise ProbeError(f"`chain_gradients` should be a function, found {type(fn).__name__}")
    out = attempt(f"chain_gradients(w, b, x, y, activation=\"{activation}\") on a "
                  f"{len(w)}-layer chain",
                  lambda: fn(w.copy(), b.copy(), x, y, activation=activation))
    if out is None:
        raise ProbeError("chain_gradients returned None: return the array of gradients")
    grad = attempt("turning what chain_gradients returned into a float array",
                   lambda: np.asarray(out, dtype=float))
    if grad.ndim != 1 or grad.size == 0:
        raise ProbeError(f"chain_gradients returned shape {grad.shape}: it should return a 1-D "
                         "array with one gradient per weight")
    return grad


def probe_backward(ns: dict[str, Any], L: int, seed: int, activation: str,
                   spread: str = "uniform", x: float = X_INPUT, y: float = Y_TARGET,
                   **_: Any) -> dict[str, Any]:
    """The gradient on one chain, and two diagnostics of the output error.

    The output layer's gradient is (a_out - y) f'(z_out) a[L-2], a straight line in the
    target y. The probe also asks for it with targets far below and far above any output:
    ``output_sign`` is its sign for both (a start at sqrt(2C) = |a_out - y| gives the same
    sign twice), and ``output_factor`` is minus its slope in y divided by a[L-2], which is
    f'(z_out) (leaving f' out gives 1). Neither depends on the student's output value, so a
    different mistake elsewhere is not reported as one of these.
    """
    w, b = chain(L, seed, spread)
    _, a = forward_with(w, b, x, activation_functions(activation)[0])
    grad = _student_gradient(ns, w, b, x, y, activation)
    low = _student_gradient(ns, w, b, x, y - _FAR, activation)[-1]
    high = _student_gradient(ns, w, b, x, y + _FAR, activation)[-1]
    with np.errstate(all="ignore"):
        factor = float((low - high) / (2 * _FAR * a[L - 2])) if a[L - 2] != 0 else float("nan")
    return {
        "output_sign": [int(np.sign(low)), int(np.sign(high))],
        "output_factor": factor,
        "gradient": grad,
    }


# --- vanishing.history -----------------------------------------------------------------------

def probe_history(ns: dict[str, Any], L: int, eta: float, n_epoch: int, seed: int,
                  activation: str, **_: Any) -> dict[str, Any]:
    """train_chain's history: its shape, whether it holds magnitudes, its first row, all of it."""
    fn = ns["train_chain"]
    if not callable(fn):
        raise ProbeError(f"`train_chain` should be a function, found {type(fn).__name__}")
    out = attempt(f"train_chain(L={L}, ..., activation=\"{activation}\")",
                  lambda: fn(L, eta, n_epoch, seed, activation=activation))
    if out is None:
        raise ProbeError("train_chain returned None: return the history array")
    history = attempt("turning what train_chain returned into a float array",
                      lambda: np.asarray(out, dtype=float))
    first = history[0] if history.ndim >= 1 and history.shape[0] > 0 else history
    return {
        "shape": list(history.shape),
        "magnitudes": bool(np.all(history >= 0)),
        "first_row": np.asarray(first, dtype=float),
        "history": history,
    }


# --- vanishing.bound -------------------------------------------------------------------------

def probe_bound(ns: dict[str, Any], depths: list[int], **_: Any) -> dict[str, Any]:
    """gradient_ratio_bound(L) for each depth L of the case."""
    fn = ns["gradient_ratio_bound"]
    if not callable(fn):
        raise ProbeError(f"`gradient_ratio_bound` should be a function, found {type(fn).__name__}")
    values = [attempt("float(gradient_ratio_bound(L)) for an integer L", lambda L=L: float(fn(L)))
              for L in depths]
    return {"values": np.array(values)}
