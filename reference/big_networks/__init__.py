"""Exercise 06: do big networks overfit?"""

# the notebook stem this package is the reference of (found by nngrade.reference)
STEM = "06_big_networks"
