"""Inputs and probes for exercise 08 (dead ReLUs), run inside the sandbox.

``build_*`` functions return the names a cell reads; ``probe_*`` functions turn what the cell
produced into plain data. Nothing here knows the expected answers: those come from running
the reference cell through the same functions. The data generator is the notebook's own
(``make_data``), so the grader can rebuild the notebook's training and held-out sets.

Some probes return *diagnostics* that name a known mistake (a dead share averaged over layers
instead of units, a threshold instead of an exact zero). The reference's diagnostics are what
a correct answer gives; the comparison decides the verdict.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from nngrade.grader.probes import ProbeError, attempt, build_nothing, function, number

__all__ = ["build_nothing"]

# The notebook's data set (its given cell uses the same generator and these sizes).
NOTEBOOK = {"seed": 0, "n_train": 400, "n_test": 2000, "n_features": 3}
# The fixed network's held-out MSE must be at most MARGIN times the linear floor (the notebook
# states it). Measured: correct fixes end at 0.30-0.53 of the floor, an output ReLU kept with
# a smaller learning rate at 0.70-0.77 (or 1.0), a dead network at 1.0.
MARGIN = 0.6
# The diagnosis cell's rule: a fit "stalls" when its held-out MSE is above STALL times the floor.
STALL = 0.95


def _number(value: Any, what: str) -> float:
    """A Python number, a NumPy scalar or a one-element tensor (with or without a gradient)."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
    return number(value, what)


# --- the data ---------------------------------------------------------------------------------

def make_data(seed: int, n_train: int = 400, n_test: int = 2000,
              n_features: int = 3) -> dict[str, torch.Tensor]:
    """The notebook's generator: y = x . w + 0.3 sin(3 x_1) + noise, x ~ N(1, 1), the target
    standardised with the training part's mean and standard deviation."""
    rng = np.random.default_rng(seed)
    w_true = rng.normal(0.0, 1.0, n_features)
    n = n_train + n_test
    x = rng.normal(1.0, 1.0, (n, n_features))
    y = x @ w_true + 0.3 * np.sin(3 * x[:, 0]) + rng.normal(0.0, 0.1, n)
    y = (y - y[:n_train].mean()) / y[:n_train].std()

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.tensor(a, dtype=torch.float32)

    return {"X_train": tensor(x[:n_train]), "y_train": tensor(y[:n_train, None]),
            "X_test": tensor(x[n_train:]), "y_test": tensor(y[n_train:, None])}


def _design(x: torch.Tensor) -> np.ndarray:
    x64 = x.double().numpy()
    return np.hstack([np.ones((len(x64), 1)), x64])


def linear_fit(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Least squares with an intercept (first), in float64."""
    beta, *_ = np.linalg.lstsq(_design(x), y.double().numpy().ravel(), rcond=None)
    return beta


def with_residuals(data: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The data with the linear model's residuals (float32, shape (n, 1)) and its test MSE."""
    beta = linear_fit(data["X_train"], data["y_train"])
    out: dict[str, Any] = dict(data)
    for part in ("train", "test"):
        pred = _design(data[f"X_{part}"]) @ beta
        out[f"r_{part}"] = data[f"y_{part}"] - torch.tensor(pred[:, None], dtype=torch.float32)
    out["linear_test_mse"] = float(np.mean(out["r_test"].double().numpy() ** 2))
    return out


# --- the reference recipe and dead share, as inputs of later cells ----------------------------

def train_residual_net(model: nn.Module, X: torch.Tensor, r: torch.Tensor, n_epochs: int,
                       lr: float) -> list[float]:
    """The notebook's recipe (full-batch Adam on the MSE), given to the cells that use it so
    that a mistake in the student's own recipe costs only that item."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(n_epochs):
        loss = nn.functional.mse_loss(model(X), r)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def dead_relu_fraction(model: nn.Sequential, X: torch.Tensor) -> float:
    """The notebook's definition, given to the diagnosis cell."""
    dead = total = 0
    with torch.no_grad():
        h = X
        for layer in model:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                dead += int((h == 0).all(dim=0).sum())
                total += h.shape[1]
    return dead / total if total else 0.0


# --- dead_relus.dead_fraction -----------------------------------------------------------------

def _sequential(seed: int, widths: list[int], acts: list[str]) -> nn.Sequential:
    """Linear layers of ``widths`` (input first), an activation after each hidden one
    (``acts``, "relu", "leaky", "tanh" or "" for none) and after the last when ``acts`` is one
    longer than the hidden layers."""
    torch.manual_seed(seed)
    make = {"relu": nn.ReLU, "leaky": lambda: nn.LeakyReLU(0.1), "tanh": nn.Tanh}
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(acts) and acts[i]:
            layers.append(make[acts[i]]())
    return nn.Sequential(*layers)


def _linears(model: nn.Sequential) -> list[nn.Linear]:
    return [m for m in model if isinstance(m, nn.Linear)]


def _set_unit(layer: nn.Linear, unit: int, weight: float | None, bias: float) -> None:
    with torch.no_grad():
        if weight is not None:
            layer.weight[unit] = weight
        layer.bias[unit] = bias


def rule_model() -> nn.Sequential:
    """A model where the usual ways to count give different shares. First ReLU layer (5 units):
    unit 0 dead (bias -100), unit 1 a constant 1e-5 (alive, but below a 1e-3 threshold), units
    2 and 3 zero on some rows only, unit 4 a pre-activation of exactly 0 (dead: ReLU gives 0).
    Second ReLU layer (2 units): one dead, one positive on every row. Dead: 3 of 7 units."""
    torch.manual_seed(80)
    model = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 2), nn.ReLU(),
                          nn.Linear(2, 1))
    first, second = model[0], model[2]
    with torch.no_grad():
        first.weight[:] = torch.tensor([[0.3, 0.2], [0.0, 0.0], [1.0, 0.0], [0.0, -1.0],
                                        [0.0, 0.0]])
        first.bias[:] = torch.tensor([-100.0, 1e-5, 0.0, 0.0, 0.0])
        second.weight[:] = torch.tensor([[0.5, 0.5, 0.5, 0.5, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5]])
        second.bias[:] = torch.tensor([-100.0, 100.0])
    return model


def rule_input() -> torch.Tensor:
    """Rows on both sides of 0 for units 2 and 3 of ``rule_model``."""
    return torch.tensor([[1.0, 1.0], [-1.0, -1.0], [2.0, -0.5], [-0.5, 0.5], [0.25, 2.0]])


# the share each counting rule gives on rule_model (a verdict shows at most 60 characters)
RULES = {
    3 / 7: "units dead on every row, over all ReLU units",
    (2 / 5 + 1 / 2) / 2: "the mean of the layers' shares, not a share of units",
    4 / 7: "outputs below a threshold, not exactly 0",
    2 / 7: "pre-activation < 0: a pre-activation of exactly 0 is dead",
    5 / 7: "zero on some row, not on every row",
    1 / 2: "the last ReLU layer only",
    2 / 5: "the first ReLU layer only",
    300 / 7: "a percentage instead of a share",
    3: "a count of units instead of a share",
}


def _rule_of(share: float) -> str:
    for value, name in RULES.items():
        if abs(share - value) < 1e-6:
            return name
    return "none of the usual rules"


def _dead_model(kind: str, seed: int) -> nn.Sequential:
    """The hidden and visible models of the dead_fraction cases."""
    if kind == "small":  # 2-8-1 ReLU, three units killed by very negative biases
        model = _sequential(seed, [2, 8, 1], ["relu"])
        for unit in (1, 4, 6):
            _set_unit(model[0], unit, None, -50.0)
        return model
    if kind == "deep":  # 3-10-6-4-1 ReLU, dead units in every hidden layer
        model = _sequential(seed, [3, 10, 6, 4, 1], ["relu", "relu", "relu"])
        lin = _linears(model)
        for layer, units in ((0, (0, 3, 9)), (1, (2,)), (2, (1, 3))):
            for unit in units:
                _set_unit(lin[layer], unit, None, -80.0)
        return model
    if kind == "all_dead_layer":  # the middle ReLU layer is dead: the next one sees only biases
        model = _sequential(seed, [3, 6, 5, 4, 1], ["relu", "relu", "relu"])
        lin = _linears(model)
        with torch.no_grad():
            lin[1].bias.fill_(-60.0)
            lin[2].bias[:] = torch.tensor([0.5, -0.5, 0.0, 0.25])  # one exactly 0: dead
        return model
    if kind == "exact_zero":  # units whose pre-activation is exactly 0 on every row
        model = _sequential(seed, [2, 6, 1], ["relu"])
        for unit in (0, 5):
            _set_unit(model[0], unit, 0.0, 0.0)
        _set_unit(model[0], 2, 0.0, 1e-6)  # a tiny positive constant: alive
        return model
    if kind == "output_relu":  # a ReLU after the output unit is counted too
        model = _sequential(seed, [3, 5, 1], ["relu", "relu"])
        _set_unit(model[0], 2, None, -40.0)
        _set_unit(model[2], 0, None, -40.0)
        return model
    if kind == "mixed":  # tanh layers are not counted, ReLU layers are
        model = _sequential(seed, [3, 7, 5, 4, 1], ["tanh", "relu", "tanh"])
        lin = _linears(model)
        _set_unit(lin[1], 1, None, -30.0)
        _set_unit(lin[1], 4, None, -30.0)
        return model
    if kind == "no_relu":  # LeakyReLU only: no ReLU unit at all
        model = _sequential(seed, [3, 6, 1], ["leaky"])
        _set_unit(model[0], 0, None, -50.0)
        return model
    raise ValueError(kind)


def _dead_input(seed: int, n: int, n_features: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, n_features, generator=gen) + 0.5


def probe_dead_fraction(ns: dict[str, Any], calls: list[dict[str, Any]],
                        **_: Any) -> dict[str, Any]:
    """The counting rule (read from the share on ``rule_model``) and the share on each call's
    model and input, as floats (a tensor or a number are both accepted)."""
    fn = function(ns, "dead_relu_fraction")

    def share(model: nn.Sequential, x: torch.Tensor, label: str) -> float:
        value = attempt(f"dead_relu_fraction on {label}", lambda: fn(model, x))
        return _number(value, f"what dead_relu_fraction returned on {label}")

    rule_share = share(rule_model(), rule_input(), "a model with 7 ReLU units")
    shares = []
    for spec in calls:
        model = _dead_model(spec["kind"], spec["seed"])
        n_features = _linears(model)[0].in_features
        x = _dead_input(spec["seed"] + 1, spec["n"], n_features)
        shares.append(share(model, x, f"a model on {spec['n']} row(s)"))
    return {"rule": _rule_of(rule_share), "shares": np.array(shares)}


# --- dead_relus.linear_floor ------------------------------------------------------------------

def build_linear(seed: int, n_train: int, n_test: int, n_features: int) -> dict[str, Any]:
    """Training and held-out sets of the notebook's generator."""
    return make_data(seed, n_train, n_test, n_features)


def _floats(value: Any, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProbeError(f"`{name}` should be an array or tensor of numbers") from None


def probe_linear(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The coefficients (flattened), the held-out MSE, the residuals and their type."""
    kinds = {f"{type(ns[n]).__module__.split('.')[0]}.{type(ns[n]).__name__}"
             + (f" of {ns[n].dtype}" if hasattr(ns[n], "dtype") else "")
             for n in ("r_train", "r_test")}
    beta = _floats(ns["beta"], "beta").ravel()
    r_train, r_test = _floats(ns["r_train"], "r_train"), _floats(ns["r_test"], "r_test")
    return {
        "beta_size": int(beta.size),
        "beta": beta,
        "linear_test_mse": _number(ns["linear_test_mse"], "`linear_test_mse`"),
        "residual_type": " and ".join(sorted(kinds)),
        "r_train_shape": list(r_train.shape),
        "r_test_shape": list(r_test.shape),
        "r_train": r_train,
        "r_test": r_test,
    }


# --- dead_relus.residual_fit ------------------------------------------------------------------

def probe_train(ns: dict[str, Any], seed: int, widths: list[int], acts: list[str], n: int,
                n_epochs: int, lr: float, **_: Any) -> dict[str, Any]:
    """Train a known network on known residuals with the student's function: the losses it
    returned and the weights after it."""
    fn = function(ns, "train_residual_net")
    model = _sequential(seed, widths, acts)
    gen = torch.Generator().manual_seed(seed + 100)
    x = torch.randn(n, widths[0], generator=gen) + 1.0
    r = 0.3 * torch.sin(3 * x[:, :1]) + 0.05 * torch.randn(n, 1, generator=gen)
    r = r - r.mean()
    torch.manual_seed(seed + 7)  # nothing in the recipe is random; any draw is the student's
    losses = attempt(f"train_residual_net(model, X, r, {n_epochs}, {lr:g})",
                     lambda: fn(model, x, r, n_epochs, lr))
    if losses is None or isinstance(losses, (str, dict)) or not hasattr(losses, "__len__"):
        raise ProbeError("train_residual_net should return the list of losses, one per epoch, "
                         f"found {type(losses).__name__}")
    values = [_number(v, "each loss train_residual_net returned") for v in losses]
    weights = np.concatenate([p.detach().double().numpy().ravel() for p in model.parameters()])
    return {"n_losses": len(values), "losses": np.array(values, dtype=np.float64),
            "weights": weights}


# --- dead_relus.diagnosis ---------------------------------------------------------------------

def _broken_notebook(seed: int, n_epochs: int) -> nn.Sequential:
    """The notebook's broken network: a ReLU after the output unit, trained on the residuals."""
    data = with_residuals(make_data(**NOTEBOOK))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 1), nn.ReLU())
    train_residual_net(model, data["X_train"], data["r_train"], n_epochs, 0.01)
    return model


def _random_features(seed: int, data: dict[str, Any], width: int, dead: int,
                     train_only_dead: int, scale: str) -> nn.Sequential:
    """A 1-hidden-layer ReLU network with random hidden weights and an output layer fitted by
    least squares to the training residuals; ``dead`` units killed by a very negative bias,
    ``train_only_dead`` units dead on every training row but alive on some held-out rows.
    ``scale``: "fit" (the least-squares output), "two_percent" (the output shrunk so that it
    removes 2% of the held-out floor), "constant" (every unit dead, output bias 0.1)."""
    x_train, x_test = data["X_train"].double(), data["X_test"].double()
    d = x_train.shape[1]
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(d, width), nn.ReLU(), nn.Linear(width, 1))
    hidden, out = model[0], model[2]
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        # hinges relu(+-(x_1 - knot)) with knots across the data: they can follow sin(3 x_1)
        sign = torch.where(torch.rand(width, generator=gen) < 0.5, -1.0, 1.0)
        knots = torch.linspace(-1.5, 3.5, width)[torch.randperm(width, generator=gen)]
        hidden.weight.zero_()
        hidden.weight[:, 0] = sign
        hidden.weight[:, 1:] = 0.05 * torch.randn(width, d - 1, generator=gen)
        hidden.bias[:] = -sign * knots
        for unit in range(dead):
            hidden.bias[unit] = -200.0
        for unit in range(dead, dead + train_only_dead):
            w = hidden.weight[unit].double()
            hidden.bias[unit] = float(-(x_train @ w).max()) - 1e-3
        if scale == "constant":
            hidden.bias.fill_(-200.0)
            out.weight.zero_()
            out.bias.fill_(0.1)
            return model
        feats = torch.relu(x_train @ hidden.weight.double().T + hidden.bias.double()).numpy()
        design = np.hstack([feats, np.ones((len(feats), 1))])
        ridge = 1e-2 * len(feats) * np.eye(design.shape[1])
        coef = np.linalg.solve(design.T @ design + ridge,
                               design.T @ data["r_train"].double().numpy().ravel())
        alpha = 1.0
        if scale == "two_percent":
            f_test = (torch.relu(x_test @ hidden.weight.double().T + hidden.bias.double())
                      .numpy() @ coef[:-1] + coef[-1])
            r = data["r_test"].double().numpy().ravel()
            a, b, floor = np.mean(r * f_test), np.mean(f_test ** 2), np.mean(r ** 2)
            if a * a <= 0.02 * floor * b:
                raise ValueError("the random features do not remove 2% of the floor")
            alpha = (a - np.sqrt(a * a - 0.02 * floor * b)) / b
        out.weight[:] = torch.tensor(alpha * coef[None, :-1], dtype=torch.float32)
        out.bias[:] = torch.tensor([alpha * coef[-1]], dtype=torch.float32)
    return model


def build_diagnosis(kind: str, seed: int, n_epochs: int = 0, data_seed: int = 0,
                    width: int = 40, dead: int = 0, train_only_dead: int = 0) -> dict[str, Any]:
    """A (broken or not) residual network, the data and the linear floor; the reference's
    dead_relu_fraction, so that a mistake there costs only its own item."""
    if kind == "notebook":
        data = with_residuals(make_data(**NOTEBOOK))
        model = _broken_notebook(seed, n_epochs)
    else:
        data = with_residuals(make_data(data_seed, 300, 1500, 3))
        model = _random_features(seed, data, width, dead, train_only_dead, kind)
    names = ("X_train", "r_train", "X_test", "r_test", "linear_test_mse")
    return {"broken_model": model, **{k: data[k] for k in names},
            "dead_relu_fraction": dead_relu_fraction}


def probe_diagnosis(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The three reported numbers."""
    stalled = ns["stalled"]
    if isinstance(stalled, torch.Tensor) and stalled.numel() == 1:
        stalled = bool(stalled.item())
    if isinstance(stalled, np.bool_):
        stalled = bool(stalled)
    if not isinstance(stalled, bool):
        raise ProbeError(f"`stalled` should be True or False, found {type(stalled).__name__}")
    return {"broken_dead_fraction": _number(ns["broken_dead_fraction"],
                                            "`broken_dead_fraction`"),
            "broken_test_mse": _number(ns["broken_test_mse"], "`broken_test_mse`"),
            "stalled": stalled}


# --- dead_relus.fix ---------------------------------------------------------------------------

def build_fix(seed: int, n_epochs: int, n_train: int = 400, n_test: int = 2000,
              n_features: int = 3) -> dict[str, Any]:
    """The training residuals, the number of epochs and the reference recipe."""
    data = with_residuals(make_data(seed, n_train, n_test, n_features))
    return {"X_train": data["X_train"], "r_train": data["r_train"], "n_epochs": n_epochs,
            "train_residual_net": train_residual_net, "dead_relu_fraction": dead_relu_fraction}


def _held_out(model: Any, seed: int, n_train: int, n_test: int,
              n_features: int) -> dict[str, Any]:
    if not isinstance(model, nn.Module):
        raise ProbeError("`fixed_model` should be a torch.nn.Module, found "
                         f"{type(model).__name__}")
    data = with_residuals(make_data(seed, n_train, n_test, n_features))
    with torch.no_grad():
        pred = attempt("calling fixed_model on the held-out set",
                       lambda: model(data["X_test"]))
    if not isinstance(pred, torch.Tensor):
        raise ProbeError(f"fixed_model(X) returned {type(pred).__name__}, expected a tensor")
    shape = list(pred.shape)
    if shape != [n_test, 1]:
        return {"output_shape": shape, "beats_floor": False}
    mse = float(np.mean((data["r_test"].double().numpy() - pred.double().numpy()) ** 2))
    return {"output_shape": shape, "beats_floor": bool(mse <= MARGIN * data["linear_test_mse"]),
            "held_out_over_floor": mse / data["linear_test_mse"]}


def probe_fix(ns: dict[str, Any], seed: int, n_train: int = 400, n_test: int = 2000,
              n_features: int = 3, **_: Any) -> dict[str, Any]:
    """The output's shape on the held-out set, and whether the linear model plus the network
    beats the linear floor by the margin."""
    return _held_out(ns["fixed_model"], seed, n_train, n_test, n_features)


def build_fix_rebuild(**_: Any) -> dict[str, Any]:
    """The fix cell rebuilds its network on the notebook's data, without training (0 epochs):
    the notebook's trained weights are loaded into it."""
    return build_fix(NOTEBOOK["seed"], 0)


def probe_fix_trained(ns: dict[str, Any], weights: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The held-out result of the notebook's trained ``fixed_model``, on the notebook's data
    regenerated here (never the kernel's copy)."""
    model = ns["fixed_model"]
    if not isinstance(model, nn.Module):
        raise ProbeError("`fixed_model` should be a torch.nn.Module, found "
                         f"{type(model).__name__}")
    state = {k: torch.tensor(np.asarray(v)) for k, v in weights.items()}
    attempt("loading your trained weights into the network your fix cell builds",
            lambda: model.load_state_dict(state))
    return _held_out(model, **NOTEBOOK)

