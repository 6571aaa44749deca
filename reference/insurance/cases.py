"""Inputs and probes for exercise 01, run inside the sandbox.

``build_*`` functions return the names a cell reads; ``probe_*`` functions turn what the cell
produced into plain data. Nothing here knows the expected answers: those come from running
the reference cell through the same functions. Builders are seeded, so the student's run and
the reference's run see identical inputs.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from nngrade.grader.probes import ProbeError, attempt, build_nothing, figure

COLUMNS = ["age", "sex", "bmi", "children", "smoker", "region", "charges"]


# --- insurance.filter -----------------------------------------------------------------------

def build_insurance_frame() -> dict[str, Any]:
    """The real data set, as the notebook loads it."""
    from nngrade.datasets import load_insurance

    return {"df": load_insurance()}


def build_synthetic_frame(seed: int, n: int, smoker_share: float) -> dict[str, Any]:
    """A shuffled frame with the data set's columns, another smoker share and a gappy index."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 65, n),
        "sex": rng.choice(["female", "male"], n),
        "bmi": np.round(rng.normal(30, 6, n), 2),
        "children": rng.integers(0, 5, n),
        "smoker": np.where(rng.random(n) < smoker_share, "yes", "no"),
        "region": rng.choice(["northeast", "northwest", "southeast", "southwest"], n),
        "charges": np.round(rng.gamma(2.0, 6000.0, n), 2),
    })
    frame.index = rng.permutation(np.arange(3 * n))[:n]
    return {"df": frame}


def _row_key(row: tuple) -> str:
    return hashlib.sha1(repr(tuple(str(v) for v in row)).encode()).hexdigest()[:16]


def probe_frame(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The kept rows as an order-free multiset of row fingerprints, and counts."""
    df = ns["df"]
    if not isinstance(df, pd.DataFrame):
        raise ProbeError(f"`df` should still be a pandas DataFrame, found {type(df).__name__}")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ProbeError(f"`df` lost the column(s) {missing}: keep every column, filter rows only")
    smoker = df["smoker"].astype(str)
    rows = sorted(_row_key(r) for r in df[COLUMNS].itertuples(index=False, name=None))
    return {
        "n_rows": int(len(df)),
        "smokers_kept": int((smoker == "yes").sum()),
        "rows": rows,
    }


# --- insurance.model ------------------------------------------------------------------------


def _as_output(value: Any, what: str) -> np.ndarray:
    if not isinstance(value, torch.Tensor):
        raise ProbeError(f"{what} returned {type(value).__name__}, expected a tensor")
    return value.detach().double().numpy()


def probe_model(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Type, shapes, depth and whether the map from input to output is non-linear.

    Non-linearity is tested on behaviour, not on layer names, so a functional activation in
    ``forward`` counts: the outputs over a wide input range are fitted by a straight line,
    and a network without an activation fits it to float32 rounding.
    """
    model = ns["model"]
    if not isinstance(model, nn.Module):
        raise ProbeError(f"`model` should be a torch.nn.Module, found {type(model).__name__}")
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    x = torch.linspace(-10, 10, 401).reshape(-1, 1)
    with torch.no_grad():
        out = attempt("calling model on a (401, 1) tensor", lambda: model(x))
        single = attempt("calling model on a (1, 1) tensor", lambda: model(x[:1]))
    y = _as_output(out, "model(x) for x of shape (401, 1)")
    if y.ndim == 0 or y.shape[0] != 401:
        raise ProbeError(f"model(x) for x of shape (401, 1) returned shape {tuple(y.shape)}, "
                         "expected (401, 1): one output per input row")
    flat = y.reshape(401, -1)[:, 0]
    design = np.stack([np.ones(len(flat)), x.double().numpy().ravel()[: len(flat)]], axis=1)
    coef, *_ = np.linalg.lstsq(design, flat, rcond=None)
    residual = float(np.sqrt(np.mean((design @ coef - flat) ** 2)))
    spread = float(np.std(flat))
    return {
        "output_shape": list(y.shape),
        "single_output_shape": list(_as_output(single, "model(x) for x of shape (1, 1)").shape),
        "hidden_layers": max(len(matrices) - 1, 0),
        "depends_on_input": spread > 1e-6,
        "nonlinear": spread > 1e-6 and residual > 1e-4 * spread,
    }


# --- insurance.loss_opt, insurance.train_step, insurance.evaluate ----------------------------

def _network(seed: int, hidden: tuple[int, ...], activation: str) -> nn.Module:
    torch.manual_seed(seed)
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
    layers: list[nn.Module] = []
    width = 1
    for h in hidden:
        layers += [nn.Linear(width, h), act()]
        width = h
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def _regression_data(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.7, 1.8, (n, 1))
    y = 0.6 * x + 0.3 * x**2 - 0.25 + rng.normal(0, 0.6, (n, 1))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def build_model(seed: int, hidden: list[int], activation: str) -> dict[str, Any]:
    """A known network: what the loss-and-optimizer cell is given as ``model``."""
    return {"model": _network(seed, tuple(hidden), activation)}


def probe_loss_opt(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The criterion's value on a fixed pair, and the optimizer's kind and settings."""
    criterion, optimizer, model = ns["criterion"], ns["optimizer"], ns["model"]
    gen = torch.Generator().manual_seed(7)
    pred, target = torch.randn(9, 1, generator=gen), torch.randn(9, 1, generator=gen)
    value = attempt("criterion(prediction, target)", lambda: criterion(pred, target))
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ProbeError(
            f"`optimizer` should be a torch.optim optimizer, found {type(optimizer).__name__}")
    groups = optimizer.param_groups
    held = {id(p) for g in groups for p in g["params"]}
    settings = {k: v for k, v in groups[0].items()
                if k != "params" and isinstance(v, (int, float, bool, type(None)))}
    return {
        "criterion_value": float(value),
        "optimizer": f"{type(optimizer).__module__}.{type(optimizer).__name__}",
        "lr": float(groups[0].get("lr", float("nan"))),
        "momentum": float(groups[0].get("momentum", 0.0) or 0.0),
        "weight_decay": float(groups[0].get("weight_decay", 0.0) or 0.0),
        "nesterov": bool(groups[0].get("nesterov", False)),
        "covers_model": held == {id(p) for p in model.parameters()},
        "n_settings": len(settings),
    }


def build_training(seed: int, hidden: list[int], activation: str, n: int, n_epochs: int,
                   lr: float, momentum: float) -> dict[str, Any]:
    """A known network, its data, MSE and an optimizer: what the training loop is given."""
    model = _network(seed, tuple(hidden), activation)
    x, y = _regression_data(seed + 1, n)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    return {"model": model, "criterion": nn.MSELoss(), "optimizer": optimizer,
            "X_train": x, "y_train": y, "n_epochs": n_epochs}


def probe_weights(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Every weight and bias of the given model after the loop, in one flat array."""
    params = [p.detach().double().numpy().ravel() for p in ns["model"].parameters()]
    return {"weights": np.concatenate(params)}


def build_evaluation(seed: int, hidden: list[int], activation: str, n: int) -> dict[str, Any]:
    """A known trained-looking network and a test set: what the evaluation cell is given."""
    model = _network(seed, tuple(hidden), activation)
    x, y = _regression_data(seed + 2, n)
    return {"model": model, "criterion": nn.MSELoss(), "X_test": x, "y_test": y}


def probe_evaluation(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The predictions and the test loss, as plain numbers."""
    y_pred, test_loss = ns["y_pred"], ns["test_loss"]
    if not isinstance(y_pred, (torch.Tensor, np.ndarray)):
        raise ProbeError(f"`y_pred` should be a tensor, found {type(y_pred).__name__}")
    loss = attempt("float(test_loss)", lambda: float(test_loss))
    pred = y_pred.detach().double().numpy() if isinstance(y_pred, torch.Tensor) else y_pred
    return {"y_pred": np.asarray(pred, dtype=np.float64), "test_loss": loss}


# --- insurance.evaluate, measured on the notebook's own trained network ---------------------

def _notebook_test_set() -> tuple[bytes, bytes, int]:
    """The test set exactly as the notebook's given cells build it (non-smokers, age ->
    charges, an 80/20 split with random_state 42, scalers fitted on the training part), as
    immutable bytes so the cell run beside it cannot edit it in place."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from nngrade.datasets import load_insurance

    df = load_insurance()
    df = df[df["smoker"] == "no"]
    x = df[["age"]].to_numpy(dtype=np.float32)
    y = df[["charges"]].to_numpy(dtype=np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42)
    x_test = StandardScaler().fit(x_train).transform(x_test).astype(np.float32)
    y_test = StandardScaler().fit(y_train).transform(y_test).astype(np.float32)
    return x_test.tobytes(), y_test.tobytes(), len(x_test)


_TEST_SET: list[tuple[bytes, bytes, int]] = []


def build_trained(**_: Any) -> dict[str, Any]:
    """The model cell rebuilds the architecture from the notebook's imports alone; the test
    set is made now, before the cell runs."""
    _TEST_SET[:] = [_notebook_test_set()]
    return {}


def probe_trained(ns: dict[str, Any], weights: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The test loss of the rebuilt ``model`` carrying the notebook's trained weights."""
    model = ns["model"]
    if not isinstance(model, nn.Module):
        raise ProbeError(f"`model` should be a torch.nn.Module, found {type(model).__name__}")
    state = {k: torch.tensor(np.asarray(v)) for k, v in weights.items()}
    attempt("loading your trained weights into the network your model cell builds",
            lambda: model.load_state_dict(state))
    x_bytes, y_bytes, n = _TEST_SET[0]
    x = torch.tensor(np.frombuffer(x_bytes, dtype=np.float32).reshape(n, 1))
    y = np.frombuffer(y_bytes, dtype=np.float32)
    with torch.no_grad():
        pred = attempt("calling your trained model on the test set", lambda: model(x))
    pred_np = _as_output(pred, "model(X_test)").reshape(-1)
    if pred_np.shape[0] != n:
        raise ProbeError(f"model(X_test) returned {pred_np.shape[0]} values for {n} rows")
    return {"test_loss": float(np.mean((pred_np - y.astype(np.float64)) ** 2))}


# --- insurance.plot -------------------------------------------------------------------------

def build_plot(seed: int, n: int) -> dict[str, Any]:
    """Standardized test targets and predictions with their scalers, as the notebook has them."""
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    age = rng.integers(18, 65, (4 * n, 1)).astype(np.float32)
    charges = (250 * age + rng.gamma(2, 2000, (4 * n, 1))).astype(np.float32)
    scaler_X, scaler_y = StandardScaler().fit(age), StandardScaler().fit(charges)
    y_test = scaler_y.transform(charges[:n])
    y_pred = y_test * 0.8 + 0.05
    return {
        "X_test": torch.tensor(scaler_X.transform(age[:n]), dtype=torch.float32),
        "y_test": torch.tensor(y_test, dtype=torch.float32),
        "y_pred": torch.tensor(y_pred, dtype=torch.float32),
        "scaler_X": scaler_X,
        "scaler_y": scaler_y,
    }


def probe_figure(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Every data series drawn on the open figures, each as sorted values."""
    import matplotlib.pyplot as plt

    series: list[np.ndarray] = []
    for number in plt.get_fignums():
        for ax in plt.figure(number).axes:
            for line in ax.lines:
                series += [np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)]
            for coll in ax.collections:
                offsets = np.asarray(coll.get_offsets(), float)
                if offsets.ndim == 2 and offsets.shape[1] == 2:
                    series += [offsets[:, 0], offsets[:, 1]]
    if not series:
        raise ProbeError("the cell drew no data: plot the test set's actual and predicted charges")
    return {"series": [np.sort(s.ravel()) for s in series], **figure()}
