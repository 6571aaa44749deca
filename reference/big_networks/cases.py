"""Inputs and probes for exercise 06, run inside the sandbox.

``build_*`` functions return the names a cell reads; ``probe_*`` functions turn what the cell
produced into plain data. Nothing here knows the expected answers: those come from running
the reference cell through the same functions. Builders are seeded, so the student's run and
the reference's run see identical inputs.

The learning-curve cell is given the grader's own ``make_network``, ``train_network`` and
``fit_line``; they record what the cell trained and fitted, so that the probe can check that
each reported error is the held-out error of the model trained on that many points, whatever
seeds the cell used.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
from torch import nn

from nngrade.grader.probes import ProbeError, attempt, build_nothing, function, number

# The notebook's data: 100 training points (seed 1) and 1,000 held-out points (seed 2).
NOTEBOOK = {"train_seed": 1, "n_train": 100, "test_seed": 2, "n_test": 1000}
WIDTH, DEPTH = 100, 5  # five hidden layers of 100 units: 40,701 parameters
# At 100 points or more, a trained network's held-out error is at most this factor times
# the line's (the learning-curve check, on the grader's few epochs). Measured on the curve
# cases, data seeds 1-8 x network seeds 0-2: at most 1.25.
CURVE_FACTOR = 1.5
# "More data, a better line", with slack: the line's error at the largest size is at most this
# factor times its error at the smallest. Measured on the curve cases' sizes over 2,000 data
# seeds: the ratio is above 1 for 7-12% of the seeds, never above 1.07.
LINE_SLACK = 1.1


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's generator: y = 3 + 0.7 x + N(0, 2^2), x uniform on [0, 20]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 20, n)
    y = 3 + 0.7 * x + rng.normal(0, 2, n)
    return x, y


def to_tensor(a: Any) -> torch.Tensor:
    """The notebook's helper: a float32 column of shape (n, 1)."""
    return torch.tensor(np.asarray(a), dtype=torch.float32).reshape(-1, 1)


def _mlp(seed: int, hidden: list[int], bias: bool = True) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width = 1
    for h in hidden:
        layers += [nn.Linear(width, h, bias=bias), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def _flat(model: nn.Module) -> np.ndarray:
    params = [p.detach().double().numpy().ravel() for p in model.parameters()]
    return np.concatenate(params) if params else np.zeros(0)


def _train(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, n_epochs: int,
           lr: float) -> list[float]:
    """The recipe of the notebook: full-batch Adam on the mean squared error."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(n_epochs):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(X), Y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _mse(model: nn.Module, X: torch.Tensor, Y: torch.Tensor) -> float:
    with torch.no_grad():
        pred = model(X)
    if not isinstance(pred, torch.Tensor) or pred.shape != Y.shape:
        raise ProbeError("the network should map a batch of shape (n, 1) to predictions of "
                         "shape (n, 1)")
    return float(((pred.double() - Y.double()) ** 2).mean())


# --- big_networks.count_parameters ----------------------------------------------------------

class _Scaled(nn.Module):
    """A layer and a bare nn.Parameter (a learned scale), with a frozen offset."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(3, 4)
        self.scale = nn.Parameter(torch.ones(4))
        self.offset = nn.Parameter(torch.zeros(4), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x) * self.scale + self.offset


def _counted_model(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "notebook":
        return _mlp(0, [WIDTH] * DEPTH)
    if kind == "small":
        return _mlp(0, [10])
    if kind == "wide_shallow":
        return nn.Sequential(nn.Linear(3, 257), nn.Tanh(), nn.Linear(257, 2))
    if kind == "deep_no_bias":
        return _mlp(0, [7, 7, 7, 7, 7, 7], bias=False)
    if kind == "frozen_layer":
        model = _mlp(0, [20, 30])
        for p in model[0].parameters():
            p.requires_grad_(False)
        return model
    if kind == "all_frozen":
        model = _mlp(0, [6])
        model.requires_grad_(False)
        return model
    if kind == "no_parameters":
        return nn.Sequential(nn.ReLU(), nn.Flatten())
    if kind == "batchnorm":  # running statistics are buffers, not parameters
        return nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))
    if kind == "bare_parameter":
        return _Scaled()
    raise ValueError(kind)


def _every_parameter(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def probe_count(ns: dict[str, Any], kinds: list[str], **_: Any) -> dict[str, Any]:
    """count_parameters on each model, and which convention its answers follow."""
    fn = function(ns, "count_parameters")
    counts: list[float] = []
    frozen_counted = False
    for kind in kinds:
        model = _counted_model(kind)
        value = attempt(f"count_parameters on a {kind.replace('_', ' ')} model",
                        lambda: fn(model))
        count = number(value, "count_parameters(model)")
        if count != round(count):
            raise ProbeError(f"count_parameters(model) should be a whole number, found {count}")
        counts.append(count)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        if _every_parameter(model) != trainable and count == _every_parameter(model):
            frozen_counted = True
    return {"frozen_counted": frozen_counted, "counts": counts}


# --- big_networks.model ---------------------------------------------------------------------

def _homogeneous(model: nn.Module, x: torch.Tensor) -> tuple[bool, bool]:
    """(ReLU-like, non-linear) of a copy of ``model`` with every bias set to zero: a network
    of linear layers and ReLUs without biases satisfies f(3x) = 3 f(x) (tanh or sigmoid do
    not), and is not odd (f(-x) != -f(x)) unless it is linear."""
    import copy

    clone = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in clone.named_parameters():
            if name.endswith("bias"):
                p.zero_()
        out = clone(x).double()
        scaled = clone(3 * x).double()
        mirrored = clone(-x).double()
    size = float(out.abs().max()) + 1e-12
    relu_like = float((scaled - 3 * out).abs().max()) <= 1e-4 * 3 * size
    nonlinear = float((mirrored + out).abs().max()) > 1e-3 * size
    return relu_like, nonlinear


def _linear_output(model: nn.Module, x: torch.Tensor) -> bool:
    """Whether lowering the output layer's bias by 1,000 lowers every prediction by 1,000:
    true of a linear output unit, not of one followed by a ReLU (or any activation). A
    network whose last bias cannot be found (no output bias) counts as linear."""
    import copy

    clone = copy.deepcopy(model)
    biases = [p for name, p in clone.named_parameters()
              if name.endswith("bias") and p.shape == (1,)]
    if not biases:
        return True
    with torch.no_grad():
        before = clone(x).double()
        biases[-1] -= 1000.0
        after = clone(x).double()
    return bool(torch.allclose(before - after, torch.full_like(before, 1000.0), atol=1e-2))


def probe_model(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The architecture of ``model`` and whether ``make_network(seed)`` is seeded."""
    make, model = function(ns, "make_network"), ns["model"]
    if not isinstance(model, nn.Module):
        raise ProbeError(f"`model` should be a torch.nn.Module, found {type(model).__name__}")
    x = torch.linspace(0.5, 20, 7).reshape(-1, 1)
    with torch.no_grad():
        out = attempt("calling model on a (7, 1) tensor", lambda: model(x))
    if not isinstance(out, torch.Tensor):
        raise ProbeError(f"model(x) returned {type(out).__name__}, expected a tensor")
    relu_like, nonlinear = attempt("evaluating model with its biases set to zero",
                                   lambda: _homogeneous(model, x))
    linear_output = attempt("evaluating model with another output bias",
                            lambda: _linear_output(model, x))
    first = attempt("make_network(5)", lambda: make(5))
    again = attempt("make_network(5)", lambda: make(5))
    other = attempt("make_network(6)", lambda: make(6))
    for built in (first, again, other):
        if not isinstance(built, nn.Module):
            raise ProbeError(f"make_network(seed) should return a torch.nn.Module, found "
                             f"{type(built).__name__}")
    w1, w2, w3 = _flat(first), _flat(again), _flat(other)
    same = w1.shape == w2.shape and bool(np.array_equal(w1, w2))
    differs = w1.shape != w3.shape or not bool(np.array_equal(w1, w3))
    return {
        "output_shape": list(out.shape),
        "n_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "layer_shapes": [list(p.shape) for p in model.parameters() if p.dim() == 2],
        "relu": relu_like,
        "nonlinear": nonlinear,
        "linear_output": linear_output,
        "seeded": same and differs,
    }


# --- big_networks.fit_network ---------------------------------------------------------------

def build_fit(seed: int, hidden: list[int], n: int, n_test: int, n_epochs: int,
              lr: float, **_: Any) -> dict[str, Any]:
    """A known small network, data of the notebook's kind, and the recipe's settings."""
    x, y = make_data(n, seed + 100)
    xt, yt = make_data(n_test, seed + 200)
    return {"model": _mlp(seed, hidden), "X_train": to_tensor(x), "Y_train": to_tensor(y),
            "X_test": to_tensor(xt), "Y_test": to_tensor(yt), "n_epochs": n_epochs, "lr": lr}


def _losses(value: Any, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().tolist()
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise ProbeError(f"{what} should be a list of the training losses, one per epoch, "
                         f"found {type(value).__name__}")
    return np.array([number(v, f"an entry of {what}") for v in value], dtype=np.float64)


def probe_fit(ns: dict[str, Any], extra: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
    """The weights after the cell's training, its losses and test error; then
    ``train_network`` and ``network_mse`` on fresh networks the cell never saw."""
    train, mse = function(ns, "train_network"), function(ns, "network_mse")
    observed: dict[str, Any] = {
        "weights": _flat(ns["model"]),
        "losses": _losses(ns["losses"], "losses"),
        "net_test_mse": number(ns["net_test_mse"], "net_test_mse"),
    }
    weights, lengths, errors = [], [], []
    for case in extra:
        built = build_fit(**case)
        model = built["model"]
        returned = attempt(f"train_network for {case['n_epochs']} epochs",
                           lambda: train(model, built["X_train"], built["Y_train"],
                                         built["n_epochs"], built["lr"]))
        lengths.append(len(_losses(returned, "what train_network returned")))
        weights.append(_flat(model))
        value = attempt("network_mse(model, X, Y)",
                        lambda: mse(model, built["X_test"], built["Y_test"]))
        errors.append(number(value, "network_mse(model, X, Y)"))
    observed.update({"loss_counts": lengths, "other_weights": np.concatenate(weights),
                     "other_errors": np.array(errors)})
    return observed


# --- big_networks.fit_network, measured on the notebook's own trained network ---------------

_HELD_OUT: list[tuple[bytes, bytes, int]] = []


def _held_out() -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out set the builder kept, as fresh tensors (it is kept as immutable bytes,
    so that the cell run beside it cannot edit it in place)."""
    x_bytes, y_bytes, count = _HELD_OUT[0]
    x = np.frombuffer(x_bytes, dtype=np.float32).reshape(count, 1).copy()
    y = np.frombuffer(y_bytes, dtype=np.float32).reshape(count, 1).copy()
    return torch.from_numpy(x), torch.from_numpy(y)


def _keep_held_out(seed: int, n: int) -> None:
    x, y = make_data(n, seed)
    _HELD_OUT[:] = [(x.astype(np.float32).tobytes(), y.astype(np.float32).tobytes(), n)]


def build_trained(**_: Any) -> dict[str, Any]:
    """The model cell rebuilds the architecture from the notebook's imports alone; the
    held-out set is made now, before the cell runs."""
    _keep_held_out(NOTEBOOK["test_seed"], NOTEBOOK["n_test"])
    return {}


def probe_trained(ns: dict[str, Any], weights: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The held-out MSE of the rebuilt ``model`` carrying the notebook's trained weights."""
    model = ns["model"]
    if not isinstance(model, nn.Module):
        raise ProbeError(f"`model` should be a torch.nn.Module, found {type(model).__name__}")
    state = {k: torch.tensor(np.asarray(v)) for k, v in weights.items()}
    attempt("loading your trained weights into the network your model cell builds",
            lambda: model.load_state_dict(state))
    X, Y = _held_out()
    return {"net_test_mse": attempt("calling your trained model on the held-out set",
                                    lambda: _mse(model, X, Y))}


# --- big_networks.fit_line ------------------------------------------------------------------

def _line_data(kind: str, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "notebook":
        return make_data(n, seed)
    if kind == "two_points":
        x = np.array([2.0, 7.5])
        return x, np.array([1.0, -3.4])
    if kind == "exact_line":
        x = rng.uniform(-5, 5, n)
        return x, -1.25 + 0.5 * x
    if kind == "constant":  # slope exactly 0
        return rng.uniform(0, 20, n), np.full(n, 4.0)
    if kind == "far_from_zero":
        x = rng.uniform(1000, 1020, n)
        return x, 40 - 0.3 * x + rng.normal(0, 1, n)
    if kind == "decreasing":
        x = rng.uniform(-3, 1, n)
        return x, 2 - 4 * x + rng.normal(0, 0.5, n)
    raise ValueError(kind)


def build_line(seed: int, n: int, n_test: int, **_: Any) -> dict[str, Any]:
    """Training and held-out points of the notebook's kind, as 1-D NumPy arrays."""
    x, y = make_data(n, seed)
    xt, yt = make_data(n_test, seed + 1)
    return {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt}


def _coefficients(value: Any, what: str) -> list[float]:
    if isinstance(value, torch.Tensor):
        value = value.detach().tolist()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ProbeError(f"{what} should be a pair (intercept, slope), found "
                         f"{type(value).__name__}" + (f" of length {len(value)}"
                                                       if hasattr(value, "__len__") else ""))
    return [number(v, what) for v in value]


def probe_line(ns: dict[str, Any], extra: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
    """The coefficients and held-out error of the cell, then fit_line on hidden data."""
    fn = function(ns, "fit_line")
    fitted = []
    for case in extra:
        x, y = _line_data(**case)
        value = attempt("fit_line(x, y)", lambda: fn(x.copy(), y.copy()))
        fitted.append(_coefficients(value, "what fit_line(x, y) returned"))
    return {
        "coefficients": np.array([number(ns["intercept"], "intercept"),
                                  number(ns["slope"], "slope")]),
        "line_test_mse": number(ns["line_test_mse"], "line_test_mse"),
        "other_coefficients": np.array(fitted),
    }


# --- big_networks.learning_curve ------------------------------------------------------------

_LOG: dict[str, list[Any]] = {"nets": [], "trained": [], "lines": []}
_TEST_NUMPY: list[tuple[bytes, bytes, int]] = []


def _data_key(x: Any) -> str:
    values = np.sort(np.asarray(x, dtype=np.float32).ravel())
    return hashlib.sha1(values.tobytes()).hexdigest()


def _test_numpy() -> tuple[np.ndarray, np.ndarray]:
    x_bytes, y_bytes, n = _TEST_NUMPY[0]
    return np.frombuffer(x_bytes, dtype=np.float64), np.frombuffer(y_bytes, dtype=np.float64)


def _recording_make_network(seed: int) -> nn.Module:
    net = _mlp(int(seed), [WIDTH] * DEPTH)
    _LOG["nets"].append(net)
    return net


def _recording_train(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, n_epochs: int,
                     lr: float) -> list[float]:
    fresh = (any(m is model for m in _LOG["nets"])
             and not any(entry["model"] is model for entry in _LOG["trained"]))
    losses = _train(model, X, Y, n_epochs, lr)
    held_x, held_y = _held_out()
    _LOG["trained"].append({"model": model, "n": int(len(X)), "data": _data_key(X),
                            "settings": (int(n_epochs), float(lr)), "fresh": fresh,
                            "error": _mse(model, held_x, held_y)})
    return losses


def _recording_fit_line(x: Any, y: Any) -> tuple[float, float]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    design = np.column_stack([np.ones_like(x), x])
    (intercept, slope), *_ = np.linalg.lstsq(design, y, rcond=None)
    xt, yt = _test_numpy()
    _LOG["lines"].append({"n": int(len(x)), "data": _data_key(x),
                          "error": float(np.mean((intercept + slope * xt - yt) ** 2))})
    return float(intercept), float(slope)


def build_curve(sizes: list[int], n_epochs: int, lr: float, test_seed: int,
                n_test: int, **_: Any) -> dict[str, Any]:
    """The notebook's helpers (the grader's own, recording what they are given), a
    held-out set and the curve's settings."""
    for log in _LOG.values():
        log.clear()
    xt, yt = make_data(n_test, test_seed)
    _keep_held_out(test_seed, n_test)
    _TEST_NUMPY[:] = [(xt.tobytes(), yt.tobytes(), n_test)]
    return {"make_data": make_data, "to_tensor": to_tensor,
            "make_network": _recording_make_network, "train_network": _recording_train,
            "network_mse": lambda model, X, Y: _mse(model, X, Y),
            "fit_line": _recording_fit_line,
            "x_test": xt.copy(), "y_test": yt.copy(),
            "X_test": to_tensor(xt), "Y_test": to_tensor(yt),
            "sizes": list(sizes), "n_epochs": n_epochs, "lr": lr}


def _curve(value: Any, name: str) -> tuple[np.ndarray, bool]:
    """The curve as float64, and whether it was a 1-D array (or list) of floats."""
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    try:
        array = np.asarray(value)
    except Exception:  # a ragged list: not a curve
        raise ProbeError(f"`{name}` should be a 1-D NumPy array of floats") from None
    floats = array.ndim == 1 and array.dtype.kind == "f"
    if array.dtype.kind not in "biuf":
        try:
            array = np.array([number(v, f"an entry of {name}") for v in np.ravel(array)])
        except ProbeError:
            raise ProbeError(f"`{name}` should be a 1-D NumPy array of floats, found "
                             f"entries of type {type(np.ravel(array)[0]).__name__}") from None
    return array.astype(np.float64).ravel(), floats


def probe_curve(ns: dict[str, Any], sizes: list[int], n_epochs: int, lr: float,
                **_: Any) -> dict[str, Any]:
    """The curves' shape, and whether they hold the held-out errors of what was trained."""
    net, net_floats = _curve(ns["net_curve"], "net_curve")
    line, line_floats = _curve(ns["line_curve"], "line_curve")
    trained, lines = _LOG["trained"], _LOG["lines"]
    aligned = len(net) == len(trained) == len(line) == len(lines) == len(sizes)
    big = [i for i, n in enumerate(sizes) if n >= 100]
    return {
        "lengths": [len(net), len(line)],
        "floats": net_floats and line_floats,
        "finite": bool(np.all(np.isfinite(net)) and np.all(np.isfinite(line))),
        "trained_sizes": [entry["n"] for entry in trained],
        "line_sizes": [entry["n"] for entry in lines],
        "fresh": all(entry["fresh"] for entry in trained),
        "settings": all(entry["settings"] == (int(n_epochs), float(lr)) for entry in trained),
        "same_data": aligned and all(a["data"] == b["data"] for a, b in zip(trained, lines)),
        "net_errors_match": aligned and bool(np.allclose(
            net, [entry["error"] for entry in trained], rtol=1e-4, atol=1e-6)),
        "line_errors_match": aligned and bool(np.allclose(
            line, [entry["error"] for entry in lines], rtol=1e-6, atol=1e-9)),
        "line_decreasing": aligned and bool(line[-1] <= LINE_SLACK * line[0]),
        "net_near_line": aligned and all(net[i] <= CURVE_FACTOR * line[i] for i in big),
    }

