"""Exercise 04: vanishing gradients."""
