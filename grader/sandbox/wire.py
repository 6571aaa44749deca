"""Plain data across the process boundary: encode in the sandbox, decode in the grader.

What a student's process sends back is JSON: numbers, strings, lists, dicts, and numeric
arrays as ``{"__array__": {"dtype", "shape", "data"}}`` with the raw bytes in base64. Decoding
never unpickles and never evaluates: an array's dtype must be a plain numeric kind, and its
byte count must match its shape, or the value is refused.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np

from nngrade.errors import ObservationError

__all__ = ["ObservationError", "dumps", "loads", "to_plain"]

_ARRAY = "__array__"
_FLOAT = "__float__"
_NUMERIC_KINDS = "biufc"
MAX_DEPTH = 20


def _array_to_plain(arr: np.ndarray) -> dict[str, Any]:
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"cannot send an array of dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr).reshape(arr.shape)  # ascontiguousarray makes 0-d into 1-d
    return {
        _ARRAY: {
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
            "data": base64.b64encode(arr.tobytes()).decode("ascii"),
        }
    }


def to_plain(value: Any, _depth: int = 0) -> Any:
    """Turn a value into JSON-able plain data (runs in the sandbox).

    Tensors become arrays (detached, on the CPU); anything that is not a number, string,
    array, list or dict is replaced by a description of its type, so no live object leaves.
    """
    if _depth > MAX_DEPTH:
        raise TypeError("value nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return {_FLOAT: repr(float(value))}
    if isinstance(value, np.generic):
        return to_plain(value.item(), _depth + 1)
    if isinstance(value, np.ndarray):
        return _array_to_plain(value)
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return _array_to_plain(value.detach().cpu().numpy())
    if isinstance(value, (list, tuple)):
        return [to_plain(v, _depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v, _depth + 1) for k, v in value.items()}
    return {"__type__": f"{type(value).__module__}.{type(value).__qualname__}"}


def dumps(value: Any) -> bytes:
    """Encode a value as observation bytes (runs in the sandbox)."""
    return json.dumps(to_plain(value), allow_nan=False).encode("utf-8")


def _from_plain(obj: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH + 2:
        raise ObservationError("observation nested too deeply")
    if isinstance(obj, list):
        return [_from_plain(v, depth + 1) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if set(obj) == {_ARRAY}:
        spec = obj[_ARRAY]
        try:
            dtype = np.dtype(str(spec["dtype"]))
            shape = tuple(int(n) for n in spec["shape"])
            raw = base64.b64decode(spec["data"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise ObservationError(f"malformed array: {exc}") from None
        if dtype.kind not in _NUMERIC_KINDS or any(n < 0 for n in shape):
            raise ObservationError(f"refused array of dtype {dtype} and shape {shape}")
        if len(raw) != dtype.itemsize * math.prod(shape):
            raise ObservationError("array bytes do not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if set(obj) == {_FLOAT}:
        text = obj[_FLOAT]
        if text not in ("nan", "inf", "-inf"):
            raise ObservationError(f"refused float {text!r}")
        return float(text)
    return {str(k): _from_plain(v, depth + 1) for k, v in obj.items()}


def loads(data: bytes) -> Any:
    """Decode observation bytes from a sandbox (runs in the grader)."""
    try:
        return _from_plain(json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ObservationError(f"not a valid observation: {exc}") from None
