"""Exercise 07: a regularization toolkit (L1/L2 penalties, dropout, early stopping, ensembles)."""

# the notebook stem this package is the reference of (found by nngrade.reference)
STEM = "07_regularization"
