"""Authoring: what an instructor writes a course with (``nngrade new``)."""
