"""Exercise 01: insurance regression."""
