"""Comparing observations, and the words a student reads."""

import numpy as np

from nngrade.grader.grading.compare import check
from nngrade.grader.spec import Expect

CLOSE = Expect("y", "the predictions", rtol=1e-5)


def test_close_arrays_pass_within_tolerance():
    exp = {"y": np.array([1.0, 2.0, 3.0])}
    assert check(CLOSE, {"y": exp["y"] * (1 + 1e-7)}, exp).ok


def test_shape_is_checked_first_and_reported_in_words():
    verdict = check(CLOSE, {"y": np.zeros(100)}, {"y": np.zeros((100, 1))})
    assert not verdict.ok
    assert "expected shape (100, 1), found (100,)" in verdict.message


def test_visible_mismatch_shows_expected_found_and_largest_difference():
    verdict = check(CLOSE, {"y": np.array([1.0, 2.5])}, {"y": np.array([1.0, 2.0])})
    assert "expected [1., 2.]" in verdict.message and "found [1. , 2.5]" in verdict.message
    assert "largest difference 0.5 at index (1,)" in verdict.message


def test_hidden_mismatch_never_shows_the_expected_value():
    expected = np.array([1.2345678, 2.0])
    verdict = check(CLOSE, {"y": np.array([1.0, 2.0])}, {"y": expected}, hidden=True)
    assert not verdict.ok and "1.23" not in verdict.message
    assert "largest difference" in verdict.message
    shape = check(CLOSE, {"y": np.zeros(3)}, {"y": np.zeros((7, 5))}, hidden=True)
    assert "(7, 5)" not in shape.message and "(3,)" in shape.message


def test_nan_where_a_number_is_expected_fails():
    assert not check(CLOSE, {"y": np.array([np.nan])}, {"y": np.array([1.0])}).ok


def test_a_non_number_where_a_number_is_expected_fails_with_its_type():
    verdict = check(CLOSE, {"y": {"__type__": "builtins.object"}}, {"y": 1.0})
    assert not verdict.ok and "builtins.object" in verdict.message


def test_equal_rule_distinguishes_bool_from_number_and_counts_list_differences():
    flag = Expect("f", "the flag", rule="equal")
    assert not check(flag, {"f": 1}, {"f": True}).ok
    rows = Expect("rows", "the rows kept", rule="equal")
    verdict = check(rows, {"rows": list("abcdefgz")}, {"rows": list("abcdefgh")})
    assert "1 of 8 differ" in verdict.message


def test_bounds_compare_against_reference_times_factor():
    at_most = Expect("loss", "the loss", rule="at_most", factor=1.5)
    assert check(at_most, {"loss": 1.4}, {"loss": 1.0}).ok
    verdict = check(at_most, {"loss": 1.6}, {"loss": 1.0})
    assert not verdict.ok and "at most 1.5" in verdict.message
    at_least = Expect("n", "hidden layers", rule="at_least")
    assert check(at_least, {"n": 3}, {"n": 1}).ok and not check(at_least, {"n": 0}, {"n": 1}).ok


def test_contains_needs_every_reference_series_among_the_students():
    rule = Expect("series", "the data", rule="contains", rtol=1e-6)
    ref = {"series": [np.array([1.0, 2.0]), np.array([5.0, 6.0])]}
    assert check(rule, {"series": [np.array([0.0]), np.array([5.0, 6.0]),
                                    np.array([1.0, 2.0])]}, ref).ok
    assert not check(rule, {"series": [np.array([1.0, 2.0])]}, ref).ok


def test_missing_key_in_the_students_observation_fails():
    assert not check(CLOSE, {}, {"y": 1.0}).ok


def test_equal_numbers_of_different_types_are_equal_and_bools_are_not_numbers():
    count = Expect("n", "the number of parameters", rule="equal")
    assert check(count, {"n": 448.0}, {"n": 448}).ok
    assert not check(count, {"n": 432.0}, {"n": 448}).ok
    assert not check(count, {"n": True}, {"n": 1}).ok


def test_hidden_message_names_both_tolerances():
    rule = Expect("y", "the values", rtol=0.0, atol=1e-9)
    verdict = check(rule, {"y": np.array([1.0])}, {"y": np.array([2.0])}, hidden=True)
    assert "rtol=0, atol=1e-09" in verdict.message


def test_an_expected_exact_zero_accepts_rounding_noise_but_not_a_real_difference():
    zero = {"y": np.zeros(3)}
    assert check(CLOSE, {"y": np.array([0.0, 1e-15, -3e-13])}, zero).ok
    assert not check(CLOSE, {"y": np.array([0.0, 1e-9, 0.0])}, zero).ok
    assert not check(Expect("y", "y", atol=0.0), {"y": np.array([1e-15])}, {"y": np.zeros(1)}).ok


def test_nan_where_the_reference_has_nan_is_equal_in_close_equal_and_contains():
    nan = np.array([1.0, np.nan])
    assert check(CLOSE, {"y": nan.copy()}, {"y": nan}).ok
    assert check(Expect("y", "y", rule="equal"), {"y": float("nan")}, {"y": float("nan")}).ok
    contains = Expect("y", "the plotted data", rule="contains")
    assert check(contains, {"y": [np.array([5.0]), nan.copy()]}, {"y": [nan]}).ok
    assert not check(CLOSE, {"y": np.array([1.0, 2.0])}, {"y": nan}).ok


def test_nan_meets_no_bound():
    bound = Expect("loss", "the test loss", rule="at_most", factor=1.5)
    assert not check(bound, {"loss": float("nan")}, {"loss": 1.0}).ok
    assert check(bound, {"loss": 1.4}, {"loss": 1.0}).ok
