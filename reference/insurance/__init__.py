"""Exercise 01: insurance regression."""

# the notebook stem this package is the reference of (found by nngrade.reference)
STEM = "01_insurance_regression"
