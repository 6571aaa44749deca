"""Exercise 02: early stopping."""

# the notebook stem this package is the reference of (found by nngrade.reference)
STEM = "02_early_stopping"
