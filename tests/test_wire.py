"""Plain data across the process boundary."""

import json

import numpy as np
import pytest
import torch

from nngrade.grader.sandbox import wire


def test_arrays_tensors_and_numbers_round_trip():
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "t": torch.ones(2, 2),
             "n": [1, 2.5, True, None, "x"], "inf": float("inf")}
    back = wire.loads(wire.dumps(value))
    assert back["a"].dtype == np.float32 and back["a"].shape == (2, 3)
    np.testing.assert_array_equal(back["a"], value["a"])
    np.testing.assert_array_equal(back["t"], np.ones((2, 2), np.float32))
    assert back["n"] == [1, 2.5, True, None, "x"]
    assert back["inf"] == float("inf")


def test_unknown_objects_become_a_type_description_not_a_live_object():
    class Sneaky:
        pass

    back = wire.loads(wire.dumps({"x": Sneaky()}))
    assert set(back["x"]) == {"__type__"} and "Sneaky" in back["x"]["__type__"]


def test_object_arrays_are_refused_on_both_sides():
    with pytest.raises(TypeError):
        wire.dumps(np.array([object()], dtype=object))
    forged = json.dumps({"__array__": {"dtype": "|O", "shape": [1], "data": "AAAAAAAAAAA="}})
    with pytest.raises(wire.ObservationError):
        wire.loads(forged.encode())


def test_array_whose_bytes_do_not_match_its_shape_is_refused():
    forged = json.dumps({"__array__": {"dtype": "<f8", "shape": [1000], "data": "AAAAAAAAAAA="}})
    with pytest.raises(wire.ObservationError, match="do not match"):
        wire.loads(forged.encode())


def test_garbage_bytes_are_an_observation_error():
    with pytest.raises(wire.ObservationError):
        wire.loads(b"\xff\xfe not json")


def test_zero_dimensional_arrays_keep_their_shape():
    back = wire.loads(wire.dumps({"s": np.array(2.5), "t": torch.tensor(3.0)}))
    assert back["s"].shape == () and back["t"].shape == ()
