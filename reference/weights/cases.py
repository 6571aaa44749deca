"""Inputs and probes for exercise 03 (weight penalization), run inside the sandbox.

``build_*`` functions return the names a cell reads; ``probe_*`` functions turn what the cell
produced into plain data. Nothing here knows the expected answers: those come from running the
reference cell through the same functions. The notebook's expensive settings (``max_iter``,
``alphas``) are names the cells read, so every case passes small values and stays cheap.

Some probes also return *diagnostics* that name a known mistake (a warm-started sweep, a
threshold taken relative to the mean, a penalty that depends on the biases). The reference's
diagnostics are what a correct answer gives; the comparison decides the verdict.

This module repeats exercise 02's data generator instead of importing it: the grader's cache
of reference results is keyed by this package's files only.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from nngrade.grader.probes import ProbeError, attempt, build_nothing, function, number
from nngrade.reference.early_stopping.cases import (
    _count_initialisations,
    _fitted,
    _initialisations,
    make_data,
)

# The data, the trained-regressor check and the count of fresh initialisations are exercise
# 02's: one definition, so the two exercises cannot drift apart.


def _as_floats(value: Any, name: str) -> np.ndarray:
    if isinstance(value, dict):
        raise ProbeError(f"`{name}` should be a list with one number per entry, found a dict")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProbeError(f"`{name}` should hold numbers only") from None
    return arr




# --- weights.gd_component ---------------------------------------------------------------------


def _descent(n: int, mu: np.ndarray, lam: float, w_star: np.ndarray) -> np.ndarray:
    """n steps of gradient descent from 0 on J(w) = sum_j mu_j (w_j - w*_j)**2 / 2."""
    w = np.zeros(np.broadcast(mu, w_star).shape)
    for _ in range(n):
        w = w - lam * mu * (w - w_star)
    return w


def _fresh(value: Any) -> Any:
    """A copy of an array argument, so a function that changes its input changes no probe."""
    return value.copy() if isinstance(value, np.ndarray) else value


def probe_gd_component(ns: dict[str, Any], calls: list[dict[str, Any]],
                       **_: Any) -> dict[str, Any]:
    """The function's value on each call, and whether every value equals gradient descent."""
    fn = function(ns, "gd_component")
    out: dict[str, Any] = {}
    agrees = True
    for index, call in enumerate(calls):
        n, lam = int(call["n"]), float(call["lam"])
        mu, w_star = np.asarray(call["mu"], float), np.asarray(call["w_star"], float)
        if mu.ndim == 0:
            mu, w_star = float(mu), float(w_star)  # scalars in, as a student would pass them
        label = f"gd_component({n}, mu, {lam:g}, w_star)"
        value = attempt(label, lambda: fn(n, _fresh(mu), lam, _fresh(w_star)))
        got = _as_floats(value, f"what {label} returned")
        # a 0-d array would cross the sandbox boundary as shape (1,): send a plain float
        out[f"call_{index}"] = float(got) if got.ndim == 0 else got
        descent = _descent(n, np.asarray(mu), lam, np.asarray(w_star))
        agrees = agrees and got.shape == descent.shape and bool(
            np.allclose(got, descent, rtol=1e-9, atol=1e-12))
    return {"agrees_with_descent": agrees, **out}


# --- weights.alpha_sweep ----------------------------------------------------------------------

def build_sweep(seed: int, random_state: int, max_iter: int, alphas: list[float],
                as_array: bool = False, n_train: int = 10) -> dict[str, Any]:
    """Data, settings and the penalties to try; counts networks initialised from now on."""
    _count_initialisations()
    return {**make_data(seed, n_train=n_train), "random_state": random_state,
            "max_iter": max_iter, "alphas": np.array(alphas) if as_array else list(alphas)}


def probe_sweep(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The test errors, and how many networks were trained from fresh weights."""
    errors = _as_floats(ns["test_mse_by_alpha"], "test_mse_by_alpha")
    if errors.ndim != 1:
        raise ProbeError("`test_mse_by_alpha` should be a flat list, one number per alpha, "
                         f"found shape {tuple(errors.shape)}")
    return {"initialisations": len(_initialisations), "n_values": int(errors.size),
            "test_mse_by_alpha": errors}


# --- weights.best_alpha -----------------------------------------------------------------------

def build_choice(alphas: list[float], errors: list[float]) -> dict[str, Any]:
    """Penalties and their test errors, as the sweep leaves them."""
    return {"alphas": list(alphas), "test_mse_by_alpha": list(errors)}


def probe_choice(ns: dict[str, Any], alphas: list[float], errors: list[float],
                 **_: Any) -> dict[str, Any]:
    """The chosen alpha, whether it is a position in the list rather than a value, and
    whether it is a later alpha of a tie for the lowest error rather than the first."""
    value = number(ns["best_alpha"], "`best_alpha`")
    lowest = int(np.argmin(ns["test_mse_by_alpha"]))
    is_position = value == lowest and value not in alphas
    # a later tie, read from the case's own errors (the cell may have changed its list)
    first = int(np.argmin(errors))
    later_tie = value != alphas[first] and any(
        a == value and e == errors[first] for a, e in zip(alphas[first + 1:], errors[first + 1:]))
    return {"is_position": bool(is_position), "later_tie": bool(later_tie),
            "best_alpha": value}


# --- weights.magnitudes -----------------------------------------------------------------------

def build_network(seed: int, random_state: int, hidden: int, n_features: int,
                  alpha: float, max_iter: int) -> dict[str, Any]:
    """A trained MLPRegressor with one hidden layer: what the notebook calls best_reg."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(12, n_features))
    y = x[:, 0] ** 2 + x.sum(axis=1) * 0.3 + rng.normal(0, 0.2, size=12)
    reg = MLPRegressor(hidden_layer_sizes=(hidden,), activation="tanh", tol=1e-7,
                       alpha=alpha, max_iter=max_iter, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(x, y)
    return {"best_reg": reg}


def _magnitudes(ns: dict[str, Any], name: str) -> dict[str, Any]:
    values = _as_floats(ns[name], name)
    return {f"{name}_shape": list(values.shape),
            f"{name}_negative": bool(np.any(values < 0)),
            f"{name}_sorted": np.sort(values.ravel())}


def probe_magnitudes(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Shape, sign and sorted values of both arrays (any flattening order is fine)."""
    return {**_magnitudes(ns, "hidden_magnitudes"), **_magnitudes(ns, "output_magnitudes")}


# --- weights.count_significant ------------------------------------------------------------------

# 0.1 * 10.0 == 1.0 exactly, so the entry 1.0 sits on the threshold. The threshold rules a
# student might use give different counts on this array; the probe names the rule it sees.
RULE_PROBE = [10.0, 5.0, 2.0, 1.0, 0.9, 0.5, 0.3, 0.2, 0.05, 0.01]
RULES = {  # short: a verdict shows at most 60 characters of a value
    3: "strictly above rel_threshold * the largest",
    4: ">= rel_threshold * the largest: >= instead of >",
    8: "above rel_threshold * the mean, not the largest",
    7: "at or below the threshold: the small ones",
}


def _count(fn: Callable[..., Any], magnitudes: np.ndarray, rel: float | None,
           label: str) -> int | None:
    call = (lambda: fn(magnitudes.copy())) if rel is None else \
        (lambda: fn(magnitudes.copy(), rel_threshold=rel))
    value = attempt(f"count_significant {label}", call)
    found = number(value, f"what count_significant returned {label}")
    return int(found) if float(found).is_integer() else None


def probe_count(ns: dict[str, Any], arrays: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
    """The threshold rule the function follows (read from its count on RULE_PROBE), and its
    count on each of the case's arrays (``rel`` None: called with the default threshold)."""
    fn = function(ns, "count_significant")
    count = _count(fn, np.array(RULE_PROBE), 0.1, "on 10 magnitudes")
    rule = "not a whole number" if count is None else RULES.get(count, "none of the usual rules")
    counts = []
    for spec in arrays:
        values = spec.get("values")
        magnitudes = (np.asarray(values, float) if values is not None
                      else np.random.default_rng(spec["seed"]).exponential(1.0, spec["size"]) ** 3)
        counts.append(_count(fn, magnitudes, spec.get("rel"), "on an array of magnitudes"))
    return {"rule": rule, "count": count, "counts": counts}


# --- weights.small_net ------------------------------------------------------------------------

def build_small(seed: int, random_state: int, max_iter: int, n_significant: int,
                n_train: int = 10) -> dict[str, Any]:
    """Data, settings and the number of hidden units the small network should have."""
    return {**make_data(seed, n_train=n_train), "random_state": random_state,
            "max_iter": max_iter, "n_significant": n_significant}


def probe_small(ns: dict[str, Any], seed: int, n_train: int = 10, **_: Any) -> dict[str, Any]:
    """The network's hidden layer sizes, its test error, and whether the cell reported it."""
    reg = _fitted(ns, "small_reg")
    data = make_data(seed, n_train=n_train)
    pred = attempt("small_reg.predict(x_test)", lambda: reg.predict(data["x_test"]))
    test_mse = float(np.mean((np.asarray(pred, float).ravel() - data["y_test"]) ** 2))
    reported = number(ns["small_test_mse"], "`small_test_mse`")
    sizes = [int(s) for s in np.atleast_1d(reg.get_params()["hidden_layer_sizes"])]
    return {"hidden_layer_sizes": sizes,
            "reports_its_error": bool(np.isclose(reported, test_mse, rtol=1e-9, atol=1e-12)),
            "test_mse": test_mse}


# --- weights.l1_penalty -----------------------------------------------------------------------

class _Branchy(nn.Module):
    """Linear layers at several depths, one without a bias, one inside a Sequential."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(3, 8)
        self.body = nn.Sequential(nn.Linear(8, 8, bias=False), nn.ReLU(), nn.Linear(8, 4))
        self.out = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.body(self.inp(x))))


def _model(kind: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "notebook":
        return nn.Sequential(nn.Linear(1, 20), nn.Tanh(), nn.Linear(20, 1))
    if kind == "deep":
        return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                             nn.Linear(16, 3))
    if kind == "branchy":
        return _Branchy()
    if kind == "single":  # the module is the layer: its parameters are "weight" and "bias"
        return nn.Linear(5, 3)
    raise ValueError(kind)


def probe_l1(ns: dict[str, Any], kind: str, seed: int, **_: Any) -> dict[str, Any]:
    """The penalty's value, whether autograd can use it, and whether biases change it."""
    fn = function(ns, "l1_penalty")
    model = _model(kind, seed)
    with torch.no_grad():  # biases of the size of the weights, so leaving them out shows
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0.0, 1.0)
    result = attempt("l1_penalty(model)", lambda: fn(model))
    differentiable = isinstance(result, torch.Tensor) and result.requires_grad
    value = number(result.detach() if isinstance(result, torch.Tensor) else result,
                    "what l1_penalty(model) returned")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.add_(1.0)
    shifted = attempt("l1_penalty(model)", lambda: fn(model))
    moved = number(shifted.detach() if isinstance(shifted, torch.Tensor) else shifted,
                    "what l1_penalty(model) returned")
    return {"depends_on_biases": bool(abs(moved - value) > 1e-4 * max(1.0, abs(value))),
            "value": value, "differentiable": bool(differentiable)}
