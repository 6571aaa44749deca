"""Inputs and probes for exercise 07 (a regularization toolkit), run inside the sandbox.

``build_*`` functions return the names a cell reads; ``probe_*`` functions turn what the cell
produced into plain data. Nothing here knows the expected answers: those come from running the
reference cell through the same functions. Every training a probe runs is grader-controlled
(sizes and epochs in the case's arguments), seeded, full-batch and therefore deterministic.

Some probes return *diagnostics* that name a known mistake (a penalty that depends on the
biases, an L2 penalty with a 1/2, a prediction that changes from call to call, weights kept
by reference instead of copied). The reference's diagnostics are what a correct answer gives;
the comparison decides the verdict.

The notebook's given code (the data generator, ``make_net``, ``train_model``) is repeated here,
not imported from the notebook: the tests check that both are the same.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# build_nothing is the builder of the cells that only define functions (checks names it)
from nngrade.grader.probes import ProbeError, attempt, build_nothing, function, number

# The notebook's settings.
N_HIDDEN = 64
LR = 0.01


# --- the notebook's given code ----------------------------------------------------------------

def make_blob_ring(n, seed, radius=5.0, noise=1.5):
    """n labelled points: a blob N(0, I) (label 0) inside a ring of the given radius plus
    Gaussian noise (label 1), in shuffled order, as float32 tensors X (n, 2) and y (n,)."""
    rng = np.random.default_rng(seed)
    n_inner = n // 2
    n_outer = n - n_inner
    inner = rng.normal(0.0, 1.0, size=(n_inner, 2))
    angle = rng.uniform(0.0, 2 * np.pi, size=n_outer)
    outer = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    outer = outer + rng.normal(0.0, noise, size=(n_outer, 2))
    X = np.concatenate([inner, outer])
    y = np.concatenate([np.zeros(n_inner), np.ones(n_outer)])
    order = rng.permutation(n)
    return (torch.tensor(X[order], dtype=torch.float32),
            torch.tensor(y[order], dtype=torch.float32))


def make_net(seed, n_hidden=N_HIDDEN):
    """The notebook's classifier: 2 -> n_hidden -> n_hidden -> 1 with ReLU, initialised from
    `seed`; it outputs one logit per row, shape (n, 1)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(2, n_hidden), nn.ReLU(),
        nn.Linear(n_hidden, n_hidden), nn.ReLU(),
        nn.Linear(n_hidden, 1),
    )


def train_model(model, X, y, n_epochs, lr=LR, penalty=None, lam=0.0):
    """Full-batch Adam on the binary cross-entropy (plus lam * penalty(model) when a penalty
    is given), for n_epochs epochs; returns the training loss of every epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for epoch in range(n_epochs):
        loss = F.binary_cross_entropy_with_logits(model(X).squeeze(1), y)
        if penalty is not None:
            loss = loss + lam * penalty(model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _proba(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The grader's own eval-mode probabilities, shape (n,); the model's mode is restored."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        proba = torch.sigmoid(model(X)).reshape(-1)
    model.train(was_training)
    return proba


def _points(n: int, seed: int) -> torch.Tensor:
    return torch.tensor(np.random.default_rng(seed).normal(0.0, 3.0, (n, 2)), dtype=torch.float32)


def _as_array(value: Any, what: str) -> np.ndarray:
    """A tensor or array (or list of numbers) as float64; a ProbeError otherwise."""
    if isinstance(value, torch.Tensor):
        return value.detach().double().numpy()
    if isinstance(value, (np.ndarray, list, tuple)):
        try:
            return np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            pass
    raise ProbeError(f"{what} should be a tensor of probabilities, found {type(value).__name__}")


# --- regularization.penalties ---------------------------------------------------------------

class _Branchy(nn.Module):
    """Linear layers at several depths, one without a bias, one inside a Sequential."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(2, 8)
        self.body = nn.Sequential(nn.Linear(8, 8, bias=False), nn.ReLU(), nn.Linear(8, 4))
        self.out = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.body(self.inp(x))))


class _Shift(nn.Module):
    """A layer whose only parameter is a bias: no weight matrix at all."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias


def _penalty_model(kind: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "notebook":
        return make_net(seed, n_hidden=16)
    if kind == "deep":
        return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                             nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    if kind == "branchy":
        return _Branchy()
    if kind == "no_weights":
        return nn.Sequential(_Shift(), nn.ReLU(), nn.Dropout(0.5))
    raise ValueError(kind)


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [p for name, p in model.named_parameters() if name.endswith("weight")]


def _detached(value: Any, what: str) -> float:
    return number(value.detach() if isinstance(value, torch.Tensor) else value, what)


def _l2_convention(value: float, weights: list[torch.Tensor]) -> str:
    """Which quantity an L2 penalty's value is (short: a verdict shows 60 characters)."""
    squares = float(sum(float((w.detach().double() ** 2).sum()) for w in weights))
    candidates = (("the sum of squares", squares), ("half the sum of squares", squares / 2),
                  ("the norm: the square root of the sum", math.sqrt(squares)))
    for name, target in candidates:
        if abs(value - target) <= 1e-5 * abs(target) + 1e-9:
            return name
    return "none of: sum of squares, half of it, its root"


def _observe_penalty(fn: Callable[..., Any], name: str, kind: str,
                     seed: int) -> dict[str, Any]:
    model = _penalty_model(kind, seed)
    with torch.no_grad():  # biases of the size of the weights, so including them shows
        for pname, p in model.named_parameters():
            if pname.endswith("bias"):
                p.normal_(0.0, 1.0)
    weights = _weights(model)
    label = f"{name}(model)"
    result = attempt(label, lambda: fn(model))
    value = _detached(result, f"what {label} returned")
    if weights:
        differentiable = False
        if isinstance(result, torch.Tensor) and result.requires_grad and result.numel() == 1:
            _, error = _call(lambda: result.reshape(()).backward())
            differentiable = error is None and any(w.grad is not None for w in weights)
        grad = np.concatenate([
            (w.grad if w.grad is not None else torch.zeros_like(w)).detach().double().numpy().ravel()
            for w in weights]) if differentiable else np.zeros(sum(w.numel() for w in weights))
    else:  # nothing to differentiate: any 0 (a number or a tensor) is right
        differentiable, grad = "no weight matrix to differentiate", np.zeros(0)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("bias"):
                p.add_(1.0)
    moved = _detached(attempt(label, lambda: fn(model)), f"what {label} returned")
    observed = {
        f"{name}_depends_on_biases": bool(abs(moved - value) > 1e-4 * max(1.0, abs(value))),
        f"{name}_differentiable": differentiable,
        f"{name}_value": value,
        f"{name}_grad": grad,
    }
    if name == "l2_penalty":
        observed["l2_penalty_convention"] = _l2_convention(value, weights)
    return observed


def _call(fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return fn(), None
    except Exception as exc:  # student code: any exception is a finding
        return None, exc


def probe_penalties(ns: dict[str, Any], kind: str, seed: int, **_: Any) -> dict[str, Any]:
    """Both penalties on one model: value, gradient, whether biases change them, and which
    quantity the L2 penalty is."""
    observed: dict[str, Any] = {}
    for name in ("l1_penalty", "l2_penalty"):
        observed.update(_observe_penalty(function(ns, name), name, kind, seed))
    return observed


# --- regularization.dropout -------------------------------------------------------------------

class _FunctionalDropout(nn.Module):
    """Dropout applied with nn.functional in forward, following self.training: only
    model.eval() switches it off (there is no nn.Dropout module to find)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.hidden = nn.Linear(2, 24)
        self.out = nn.Linear(24, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.dropout(torch.relu(self.hidden(x)), self.p, training=self.training)
        return self.out(h)

    def plain(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x)))


def _dropout_model(kind: str, seed: int) -> tuple[nn.Module, Callable[[torch.Tensor], Any]]:
    """A model with dropout, and the same network without dropout (the plain forward)."""
    torch.manual_seed(seed)
    if kind == "functional":
        model = _FunctionalDropout(0.7)
        return model, model.plain
    if kind == "sequential":
        model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.5),
                              nn.Linear(16, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 1))
    elif kind == "input_dropout":
        model = nn.Sequential(nn.Dropout(0.2), nn.Linear(2, 32), nn.Tanh(), nn.Dropout(0.4),
                              nn.Linear(32, 1))
    else:
        raise ValueError(kind)
    plain = nn.Sequential(*[m for m in model if not isinstance(m, nn.Dropout)])
    return model, plain


def _mode(model: nn.Module) -> str:
    flags = {m.training for m in model.modules()}
    return "train" if flags == {True} else "eval" if flags == {False} else "mixed"


def probe_dropout(ns: dict[str, Any], n_hidden: int, p: float, kind: str, seed: int,
                  n_rows: int, **_: Any) -> dict[str, Any]:
    """The network make_dropout_net builds (its dropout layers, its randomness in train and
    eval mode), and predict on a grader model with dropout: shape, whether two calls agree,
    whether it equals the network without dropout, and the mode it leaves the model in."""
    make, predict = function(ns, "make_dropout_net"), function(ns, "predict")
    label = f"make_dropout_net({n_hidden}, {p})"
    net = attempt(label, lambda: make(n_hidden, p))
    if not isinstance(net, nn.Module):
        raise ProbeError(f"{label} should return an nn.Module, found {type(net).__name__}")
    X = _points(12, seed)
    net.train()
    applied: list[float] = []  # the p of every nn.Dropout applied in one forward pass
    hooks = [m.register_forward_hook(lambda module, *_: applied.append(float(module.p)))
             for m in net.modules() if isinstance(m, nn.Dropout)]
    with torch.no_grad():
        first = attempt(f"calling {label} on a (12, 2) tensor", lambda: net(X))
        for hook in hooks:
            hook.remove()
        if not isinstance(first, torch.Tensor):
            raise ProbeError(f"the network of {label} returned {type(first).__name__}, "
                             "expected a tensor of logits")
        random_in_train = not torch.equal(first, net(X))
        net.eval()
        deterministic_in_eval = bool(torch.equal(net(X), net(X)))
    model, plain = _dropout_model(kind, seed + 1)
    X = _points(n_rows, seed + 2)
    model.train()
    one = _as_array(attempt("predict(model, X)", lambda: predict(model, X)),
                    "what predict(model, X) returned")
    mode_after_train = _mode(model)
    model.train()
    two = _as_array(attempt("predict(model, X)", lambda: predict(model, X)),
                    "what predict(model, X) returned")
    with torch.no_grad():
        expected = torch.sigmoid(plain(X)).reshape(-1).double().numpy()
    model.eval()
    attempt("predict(model, X)", lambda: predict(model, X))
    mode_after_eval = _mode(model)
    same_shape = one.shape == expected.shape
    return {
        "output_shape": list(first.shape),
        "dropout_ps": applied,
        "random_in_train": bool(random_in_train),
        "deterministic_in_eval": deterministic_in_eval,
        "predict_shape": list(one.shape),
        "predict_deterministic": bool(one.shape == two.shape and np.array_equal(one, two)),
        "predict_is_plain": bool(same_shape and np.allclose(one, expected, rtol=1e-5,
                                                            atol=1e-7)),
        "probabilities": one,
        "mode_after_train": mode_after_train,
        "mode_after_eval": mode_after_eval,
    }


# --- regularization.early_stopping -------------------------------------------------------------

def _losses(values: list[float | None]) -> list[float]:
    """A case's loss sequence; None stands for NaN (arguments stay plain JSON)."""
    return [float("nan") if v is None else float(v) for v in values]


def _stopper(ns: dict[str, Any], patience: int, min_delta: float) -> Any:
    cls = ns["EarlyStopping"]
    if not isinstance(cls, type):
        raise ProbeError(f"`EarlyStopping` should be a class, found {type(cls).__name__}")
    return attempt(f"EarlyStopping(patience={patience}, min_delta={min_delta:g})",
                   lambda: cls(patience=patience, min_delta=min_delta))


def _step(stopper: Any, loss: float, model: nn.Module, epoch: int) -> bool:
    result = attempt(f"step(loss, model) at epoch {epoch}", lambda: stopper.step(loss, model))
    return bool(attempt(f"bool() of what step returned at epoch {epoch}", lambda: bool(result)))


def _set_epoch(model: nn.Linear, epoch: int) -> None:
    """Weights that name their epoch, changed in place as an optimizer changes them."""
    with torch.no_grad():
        model.weight.fill_(float(epoch))
        model.bias.fill_(-float(epoch))


# Weights given to the model after the last step and before restore (as one more optimizer
# step would): a restore that loads nothing, or a state_dict kept without copying (it holds
# the live tensors), leaves exactly these.
_AFTER_LAST = 1000


def _epoch_of(model: nn.Linear, n_epochs: int) -> int | str:
    w, b = model.weight.detach(), model.bias.detach()
    value = float(w.reshape(-1)[0])
    if not (bool(torch.all(w == value)) and bool(torch.all(b == -value))):
        return "none of the epochs' weights"
    if value == _AFTER_LAST:
        return "the weights it had just before restore (no copy)"
    if value.is_integer() and 0 <= value < n_epochs:
        return int(value)
    return "none of the epochs' weights"


def probe_sequence(ns: dict[str, Any], patience: int, min_delta: float,
                   losses: list[float | None], **_: Any) -> dict[str, Any]:
    """Feed the losses one epoch at a time (stopping at the first True), then restore: the
    epoch of the stop, the epoch whose weights come back, and best_loss."""
    stopper = _stopper(ns, patience, min_delta)
    model = nn.Linear(3, 2)
    values = _losses(losses)
    stopped: int | str = "never"
    for epoch, loss in enumerate(values):
        _set_epoch(model, epoch)
        if _step(stopper, loss, model, epoch):
            stopped = epoch
            break
    _set_epoch(model, _AFTER_LAST)
    attempt("restore(model)", lambda: stopper.restore(model))
    best = attempt("reading best_loss", lambda: stopper.best_loss)
    return {"stopped_at": stopped, "best_loss": number(best, "best_loss"),
            "restored_epoch": _epoch_of(model, len(values)), "restored_weights": _flat(model)}


def _flat(model: nn.Module) -> np.ndarray:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double().numpy()


def probe_training(ns: dict[str, Any], seed: int, n_train: int, patience: int,
                   min_delta: float, max_epochs: int, lr: float, **_: Any) -> dict[str, Any]:
    """A real training (the notebook's loop, grader-controlled sizes) stopped by the class:
    the stop epoch, the epoch whose weights restore brings back, and those weights."""
    stopper = _stopper(ns, patience, min_delta)
    X, y = make_blob_ring(n_train, seed)
    X_val, y_val = make_blob_ring(100, seed + 1)
    model = make_net(seed, n_hidden=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    snapshots = []
    stopped: int | str = "never"
    for epoch in range(max_epochs):
        model.train()
        loss = F.binary_cross_entropy_with_logits(model(X).squeeze(1), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            val_loss = F.binary_cross_entropy_with_logits(model(X_val).squeeze(1), y_val).item()
        snapshots.append(_flat(model))
        if _step(stopper, val_loss, model, epoch):
            stopped = epoch
            break
    attempt("restore(model)", lambda: stopper.restore(model))
    restored = _flat(model)
    matches = [e for e, w in enumerate(snapshots) if np.array_equal(w, restored)]
    best = attempt("reading best_loss", lambda: stopper.best_loss)
    return {"stopped_at": stopped, "best_loss": number(best, "best_loss"),
            "restored_epoch": matches[0] if matches else "none of the epochs' weights",
            "restored_weights": restored}


# --- regularization.ensemble ----------------------------------------------------------------

def build_ensemble(**_: Any) -> dict[str, Any]:
    """The notebook's given functions: make_net, train_model and (the grader's) predict."""
    return {"make_net": make_net, "train_model": train_model, "predict": _proba}


def _bce(proba: np.ndarray, y: torch.Tensor) -> float:
    """The cross-entropy in float64, unclamped: a probability of exactly 0 for the true class
    costs inf. (torch's binary_cross_entropy clamps each log at -100, which breaks Jensen's
    inequality: saturated float32 members would look better than their average.)"""
    p, labels = np.asarray(proba, dtype=np.float64), y.double().numpy()
    with np.errstate(divide="ignore"):
        losses = np.where(labels == 1.0, -np.log(p), -np.log1p(-p))
    return float(np.mean(losses))


def probe_ensemble(ns: dict[str, Any], seeds: list[int], data_seed: int, n_train: int,
                   n_epochs: int, **_: Any) -> dict[str, Any]:
    """Train the ensemble (grader-controlled sizes), then on held-out points: each member's
    cross-entropy, the ensemble's, and whether the members differ."""
    train, combine = function(ns, "train_ensemble"), function(ns, "ensemble_predict")
    X, y = make_blob_ring(n_train, data_seed)
    X_test, y_test = make_blob_ring(300, data_seed + 1)
    label = f"train_ensemble(seeds, X, y, n_epochs={n_epochs})"
    models = attempt(label, lambda: train(list(seeds), X, y, n_epochs))
    if not isinstance(models, (list, tuple)) or not all(isinstance(m, nn.Module) for m in models):
        raise ProbeError(f"{label} should return a list of trained networks (nn.Module), "
                         f"found {type(models).__name__}")
    models = list(models)
    member_probs = [_proba(m, X_test).double().numpy() for m in models]
    member_losses = np.array([_bce(p, y_test) for p in member_probs])
    flats = [_flat(m) for m in models]
    differ = all(not (a.shape == b.shape and np.array_equal(a, b))
                 for i, a in enumerate(flats) for b in flats[i + 1:])
    proba = _as_array(attempt("ensemble_predict(models, X)", lambda: combine(models, X_test)),
                      "what ensemble_predict(models, X) returned")
    if proba.shape != (len(y_test),):
        raise ProbeError(f"ensemble_predict(models, X) for X of shape ({len(y_test)}, 2) "
                         f"returned shape {tuple(proba.shape)}, expected ({len(y_test)},): "
                         "one probability per row")
    if not np.all((proba >= 0) & (proba <= 1)):
        raise ProbeError("ensemble_predict(models, X) returned values outside [0, 1]: "
                         "average the members' probabilities, not their logits")
    ensemble_loss = _bce(proba, y_test)
    mean_member = float(member_losses.mean()) if len(member_losses) else float("nan")
    return {"n_members": len(models), "members_differ": bool(differ),
            "member_losses": member_losses, "ensemble_loss": ensemble_loss,
            # float32 rounding of the average moves its loss by ~1e-7 relative
            "beats_mean_member": bool(ensemble_loss <= mean_member * (1 + 1e-6) + 1e-9),
            "probabilities": proba}
