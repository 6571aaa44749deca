"""Inputs and probes for exercise 02 (early stopping), run inside the sandbox.

``build_*`` functions return the names a cell reads; ``probe_*`` functions turn what the cell
produced into plain data. Nothing here knows the expected answers: those come from running the
reference cell through the same functions. The expensive settings of the notebook
(``max_iter=20000``, ``n_steps=3000``) are names the cells read, so every case passes small
values and stays cheap.

Some probes also return *diagnostics*: facts about the student's answer that name a known
mistake (a 0-based step, the noise's standard deviation instead of its variance, a curve that
starts a new network at every step). The reference's diagnostics are what a correct answer
gives, so the comparison, not this module, decides the verdict.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nngrade.grader.probes import ProbeError, attempt, build_nothing, number

RECIPE = {"hidden_layer_sizes": (20,), "activation": "tanh", "tol": 1e-7}

# Filled while a cell runs (each case runs in a fresh child, so nothing carries over).
_initialisations: list[int] = []
_warnings_seen: list[str] = []


def make_data(seed: int, n_train: int = 10, n_test: int = 100,
              sigma: float = 0.2) -> dict[str, np.ndarray]:
    """The notebook's data: y = x**2 + Gaussian noise, x uniform on [-1, 1].

    The notebook's data cell draws exactly this, in this order, from
    ``np.random.default_rng(data_seed)``; a test pins that the two agree.
    """
    rng = np.random.default_rng(seed)
    x_train = rng.uniform(-1, 1, size=(n_train, 1))
    y_train = x_train[:, 0] ** 2 + rng.normal(0, sigma, size=n_train)
    x_test = rng.uniform(-1, 1, size=(n_test, 1))
    y_test = x_test[:, 0] ** 2 + rng.normal(0, sigma, size=n_test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _regressor(random_state: int, max_iter: int):
    from sklearn.neural_network import MLPRegressor

    return MLPRegressor(**RECIPE, max_iter=max_iter, random_state=random_state)


# --- instrumentation: what the cell did, not only what it left ---------------------------------

def _count_initialisations() -> None:
    """Count every network that scikit-learn initialises from random weights.

    ``fit`` (without ``warm_start``) initialises a network every call; ``partial_fit`` only on
    its first call. So the count tells a curve built by continuing one network apart from one
    that starts again at every step, even when the numbers happen to agree.
    """
    from sklearn.neural_network import _multilayer_perceptron as mlp

    original = mlp.BaseMultilayerPerceptron._initialize
    if getattr(original, "_nngrade_counted", False):
        return

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        _initialisations.append(1)
        return original(self, *args, **kwargs)

    counted._nngrade_counted = True  # type: ignore[attr-defined]
    mlp.BaseMultilayerPerceptron._initialize = counted


def _record_warnings() -> None:
    """Note the class of every warning the cell shows, without changing what is shown."""
    shown = warnings.showwarning

    def record(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        _warnings_seen.append(category.__name__)
        shown(message, category, *args, **kwargs)

    warnings.showwarning = record


# --- shared probe helpers ------------------------------------------------------------------------


def _fitted(ns: dict[str, Any], name: str) -> Any:
    from sklearn.neural_network import MLPRegressor

    model = ns[name]
    if not isinstance(model, MLPRegressor):
        raise ProbeError(f"`{name}` should be an MLPRegressor, found {type(model).__name__}")
    if not hasattr(model, "coefs_"):
        raise ProbeError(f"`{name}` has not been trained: call {name}.fit(x_train, y_train)")
    return model


def _settings(model: Any) -> dict[str, Any]:
    params = model.get_params()
    sizes = params["hidden_layer_sizes"]
    return {
        "hidden_layer_sizes": [int(s) for s in np.atleast_1d(sizes)],
        "activation": str(params["activation"]),
        "tol": float(params["tol"]),
        "max_iter": int(params["max_iter"]),
        "random_state": params["random_state"] if isinstance(params["random_state"], int)
        else repr(params["random_state"]),
    }


def _mse(model: Any, x: np.ndarray, y: np.ndarray, name: str) -> float:
    pred = attempt(f"{name}.predict(x_test)", lambda: model.predict(x))
    return float(np.mean((np.asarray(pred, dtype=np.float64).ravel() - y) ** 2))


def _curve(ns: dict[str, Any], name: str) -> np.ndarray:
    value = ns[name]
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProbeError(f"`{name}` should be a list of numbers, one per step; it holds "
                         "something that is not a number") from None
    if arr.ndim != 1:
        raise ProbeError(f"`{name}` should be a flat list with one number per step, found "
                         f"shape {tuple(arr.shape)}")
    return arr


# --- early_stopping.fit ----------------------------------------------------------------------

def build_fit(seed: int, random_state: int, max_iter: int, n_train: int = 10) -> dict[str, Any]:
    """A data set and the settings the fitting cell reads."""
    return {**make_data(seed, n_train=n_train), "random_state": random_state,
            "max_iter": max_iter}


def probe_fit(ns: dict[str, Any], seed: int, n_train: int = 10, **_: Any) -> dict[str, Any]:
    """The regressor's settings, its predictions on the test inputs, and the two errors."""
    reg = _fitted(ns, "reg")
    data = make_data(seed, n_train=n_train)
    pred = attempt("reg.predict(x_test)", lambda: reg.predict(data["x_test"]))
    return {
        **_settings(reg),
        "predictions": np.asarray(pred, dtype=np.float64).ravel(),
        "train_mse": number(ns["train_mse"], "`train_mse`"),
        "test_mse": number(ns["test_mse"], "`test_mse`"),
    }


# --- early_stopping.noise_floor -----------------------------------------------------------------

def build_noise(noise_sigma: float) -> dict[str, Any]:
    """The noise level the cell reads."""
    return {"noise_sigma": noise_sigma}


def probe_noise(ns: dict[str, Any], noise_sigma: float, **_: Any) -> dict[str, Any]:
    """The floor, and whether it is the standard deviation itself (a known slip)."""
    value = number(ns["best_possible_mse"], "`best_possible_mse`")
    return {"is_sigma": bool(np.isclose(value, noise_sigma, rtol=1e-9, atol=0.0)),
            "best_possible_mse": value}


# --- early_stopping.curve -------------------------------------------------------------------

def build_curve(seed: int, random_state: int, n_steps: int, n_train: int = 10) -> dict[str, Any]:
    """Data, settings and the number of steps; counts networks initialised from now on."""
    _count_initialisations()
    return {**make_data(seed, n_train=n_train), "random_state": random_state,
            "n_steps": n_steps, "max_iter": 20000}


def probe_curve(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Both error curves, and how many networks the loop started from random weights."""
    return {
        "initialisations": len(_initialisations),
        "n_train_errors": len(_curve(ns, "train_errors")),
        "n_test_errors": len(_curve(ns, "test_errors")),
        "train_errors": _curve(ns, "train_errors"),
        "test_errors": _curve(ns, "test_errors"),
    }


# --- early_stopping.best_iter ----------------------------------------------------------------

def build_real_curve(seed: int, random_state: int, n_steps: int) -> dict[str, Any]:
    """A genuine test-error curve (a list of floats, as the notebook's loop makes it)."""
    data = make_data(seed)
    reg = _regressor(random_state, 20000)
    errors: list[float] = []
    for _ in range(n_steps):
        reg.partial_fit(data["x_train"], data["y_train"])
        pred = reg.predict(data["x_test"])
        errors.append(float(np.mean((pred - data["y_test"]) ** 2)))
    return {"test_errors": errors, "train_errors": errors[::-1]}


def build_shaped_curve(seed: int, n: int, best: str) -> dict[str, Any]:
    """A synthetic test-error curve whose lowest point is at the start, the end or inside.

    A list of floats, like the notebook's own curve (the notebook promises a list).
    """
    rng = np.random.default_rng(seed)
    steps = np.arange(1, n + 1)
    centre = {"first": -n, "last": 3 * n, "inside": int(0.37 * n)}[best]
    errors = (0.05 + 0.2 * ((steps - centre) / n) ** 2 + rng.uniform(0, 0.004, n)).tolist()
    return {"test_errors": errors, "train_errors": errors[::-1]}


def build_tied_curve(seed: int, n: int, ties: list[int]) -> dict[str, Any]:
    """A noisy test-error curve whose lowest value is reached, exactly, at each 0-based
    position of ``ties`` (the notebook: if several steps tie, take the first)."""
    rng = np.random.default_rng(seed)
    errors = 0.1 + rng.uniform(0.0, 0.05, n)
    errors[list(ties)] = 0.08  # below every other entry, the same float at every tie
    return {"test_errors": errors.tolist(), "train_errors": errors[::-1].tolist()}


def probe_best_iter(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The step chosen, whether it is the 0-based position of the minimum instead, and
    whether it is a later step of a tie for the minimum instead of the first."""
    value = ns["best_n_iter"]
    number = attempt("float(best_n_iter)", lambda: float(np.asarray(value).reshape(())))
    if not float(number).is_integer():
        raise ProbeError(f"`best_n_iter` should be a whole number of steps, found {number:g}")
    best = int(number)
    errors = _curve(ns, "test_errors")
    lowest = float(np.min(errors))

    def is_lowest(position: int) -> bool:
        return 0 <= position < len(errors) and errors[position] == lowest

    # a 0-based answer points at the minimum as a list position, not as a step count
    zero_based = is_lowest(best) and not is_lowest(best - 1)
    # a later tie: the step's error is the lowest, but an earlier step reached it already
    later_tie = is_lowest(best - 1) and int(np.argmin(errors)) < best - 1
    return {"zero_based": bool(zero_based), "later_tie": bool(later_tie), "best_n_iter": best}


# --- early_stopping.refit -------------------------------------------------------------------

def build_refit(seed: int, random_state: int, best_n_iter: int) -> dict[str, Any]:
    """Data, the random state and a step count; records the warnings the cell shows."""
    _record_warnings()
    return {**make_data(seed), "random_state": random_state, "best_n_iter": best_n_iter,
            "max_iter": 20000}


def probe_refit(ns: dict[str, Any], seed: int, **_: Any) -> dict[str, Any]:
    """The new regressor's settings, its test error, and the warnings the cell showed.

    ``warnings`` is not graded; it lets the tests pin that the refit raises the
    ConvergenceWarning the notebook asks about.
    """
    reg = _fitted(ns, "reg_early")
    data = make_data(seed)
    return {
        **_settings(reg),
        "n_iter": int(getattr(reg, "n_iter_", -1)),
        "test_mse": _mse(reg, data["x_test"], data["y_test"], "reg_early"),
        "early_test_mse": number(ns["early_test_mse"], "`early_test_mse`"),
        "warnings": sorted(set(_warnings_seen)),
    }


# --- early_stopping.warning -----------------------------------------------------------------


def probe_warning(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The warning class, by its full name."""
    value = ns["warning_category"]
    if not isinstance(value, type):
        shown = repr(value) if isinstance(value, str) else f"a {type(value).__name__}"
        raise ProbeError(f"`warning_category` should be the warning class itself (import it "
                         f"from the module that defines it), found {shown}")
    return {"is_warning": issubclass(value, Warning),
            "category": f"{value.__module__}.{value.__qualname__}"}
