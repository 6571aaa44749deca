"""Exercise 02: early stopping."""
