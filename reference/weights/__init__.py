"""Exercise 03: weight penalization and weight magnitudes."""

# the notebook stem this package is the reference of (found by nngrade.reference)
STEM = "03_weight_penalization"
