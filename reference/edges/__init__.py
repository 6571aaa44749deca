"""Exercise 05: convolution and edge detection."""

# the notebook stem this package is the reference of (found by nngrade.reference)
STEM = "05_edge_detection"
