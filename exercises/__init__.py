"""The student notebooks, shipped as package data."""
