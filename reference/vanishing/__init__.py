"""Exercise 04: vanishing gradients."""

# the notebook stem this package is the reference of (found by nngrade.reference)
STEM = "04_vanishing_gradients"
