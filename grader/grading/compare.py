"""Compare a student's observation with the reference's, in the grader's process.

Each rule returns a ``Verdict`` whose message says what was expected and what was found, in
a student's words. On a hidden case the message says how far off the answer was, never the
expected value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nngrade.errors import DeclarationError
from nngrade.grader.spec import Expect


@dataclass(frozen=True)
class Verdict:
    """Whether one expectation held, and if not, why."""

    ok: bool
    message: str = ""


PASS = Verdict(True)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "nothing"}[value]
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, str):
        return value if len(value) <= 60 else value[:57] + "..."
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, precision=5, separator=", ").replace("\n", "")
        flat = ", ".join(f"{v:.4g}" for v in value.ravel()[:3])
        return f"an array of shape {tuple(value.shape)} starting [{flat}, ...]"
    if isinstance(value, list):
        if len(value) <= 6 and all(not isinstance(v, (list, dict, np.ndarray)) for v in value):
            return "(" + ", ".join(_fmt(v) for v in value) + ")"
        return f"a list of {len(value)} entries"
    if isinstance(value, dict) and "__type__" in value:
        return f"an object of type {value['__type__']}"
    return type(value).__name__


def _numeric(value: Any) -> np.ndarray | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return np.asarray(float(value))
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value.astype(np.float64)
    return None


def _close(expect: Expect, found: Any, expected: Any, hidden: bool) -> Verdict:
    exp, got = _numeric(expected), _numeric(found)
    if exp is None:
        raise ValueError(f"reference value of {expect.key} is not numeric")
    if got is None:
        return Verdict(False, f"{expect.what}: expected a number or array, found {_fmt(found)}")
    if exp.shape != got.shape:
        if hidden:
            return Verdict(False, f"{expect.what}: found shape {tuple(got.shape)}, which is "
                                  "not the expected shape")
        return Verdict(False, f"{expect.what}: expected shape {tuple(exp.shape)}, "
                              f"found {tuple(got.shape)}")
    if np.allclose(got, exp, rtol=expect.rtol, atol=expect.atol, equal_nan=True):
        return PASS
    diff = np.abs(got - exp)
    diff = np.where(np.isnan(diff), np.inf, diff)
    where = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    largest = float(diff[where]) if diff.ndim else float(diff)
    at = f" at index {tuple(int(i) for i in where)}" if diff.ndim else ""
    off = f"largest difference {largest:.3g}{at}"
    if hidden:
        return Verdict(False, f"{expect.what} is off: {off} (tolerance rtol={expect.rtol:g}, "
                              f"atol={expect.atol:g})")
    return Verdict(False, f"{expect.what}: expected {_fmt(expected)}, found {_fmt(found)} ({off})")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(expect: Expect, found: Any, expected: Any, hidden: bool) -> Verdict:
    if isinstance(expected, np.ndarray) or isinstance(found, np.ndarray):
        same = (isinstance(found, np.ndarray) and isinstance(expected, np.ndarray)
                and found.shape == expected.shape and bool(np.array_equal(found, expected)))
    elif _is_number(expected) and _is_number(found):
        # 448 and 448.0 are the same count; a bool is never a number here
        same = float(found) == float(expected) or (math.isnan(expected) and math.isnan(found))
    else:
        same = type(found) is type(expected) and found == expected
    if same:
        return PASS
    if isinstance(expected, list) and isinstance(found, list) and len(expected) > 6:
        if len(found) != len(expected):
            detail = f"{len(found)} entries where {len(expected)} were expected"
        else:
            detail = f"{sum(a != b for a, b in zip(found, expected))} of {len(expected)} differ"
        return Verdict(False, f"{expect.what}: {detail}" if not hidden else
                       f"{expect.what} is wrong: {detail}")
    if hidden:
        return Verdict(False, f"{expect.what}: found {_fmt(found)}, which is not right")
    return Verdict(False, f"{expect.what}: expected {_fmt(expected)}, found {_fmt(found)}")


def _bound(expect: Expect, found: Any, expected: Any, hidden: bool) -> Verdict:
    got = _numeric(found)
    if got is None or got.size != 1:
        return Verdict(False, f"{expect.what}: expected a number, found {_fmt(found)}")
    bound = float(expected) * expect.factor
    value = float(got.reshape(()))
    ok = value <= bound if expect.rule == "at_most" else value >= bound
    if ok:
        return PASS
    word = "at most" if expect.rule == "at_most" else "at least"
    return Verdict(False, f"{expect.what}: expected {word} {_fmt(bound)}, found {_fmt(value)}")


def _contains(expect: Expect, found: Any, expected: Any, hidden: bool) -> Verdict:
    if not isinstance(found, list):
        return Verdict(False, f"{expect.what}: found nothing to compare")
    candidates = [_numeric(f) for f in found]
    for want in expected:
        target = _numeric(want)
        if not any(c is not None and c.shape == target.shape
                   and np.allclose(c, target, rtol=expect.rtol, atol=expect.atol,
                                   equal_nan=True)
                   for c in candidates):
            return Verdict(False, f"{expect.what}: not all of it is among the data you plotted "
                                  f"(looked for {target.size} values in {len(found)} series)")
    return PASS


_RULES = {"close": _close, "equal": _equal, "at_most": _bound, "at_least": _bound,
          "contains": _contains}


def check(expect: Expect, found: dict[str, Any], expected: dict[str, Any], *,
          hidden: bool = False) -> Verdict:
    """Apply one expectation to a student's and the reference's observations."""
    if expect.key not in expected:  # declarations are checked when loaded; this is a backstop
        raise DeclarationError(f"the reference observation has no {expect.key!r}")
    if expect.key not in found:
        return Verdict(False, f"{expect.what}: found nothing")
    return _RULES[expect.rule](expect, found[expect.key], expected[expect.key], hidden)
