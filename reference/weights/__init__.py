"""Exercise 03: weight penalization and weight magnitudes."""
