"""Exercise 05: convolution and edge detection."""
