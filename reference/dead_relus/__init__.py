"""Exercise 08: when a network will not beat a straight line (dead ReLUs)."""

# the notebook stem this package is the reference of (found by nngrade.reference)
STEM = "08_dead_relus"
