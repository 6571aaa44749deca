"""nngrade: auto-graded neural-network exercises.

The import root maps onto the project's top-level folders: ``nngrade.grader`` (the engine),
``nngrade.reference`` (reference solutions and check declarations), ``nngrade.datasets`` (the
data registry and loader) and ``nngrade.exercises`` (the student notebooks).
"""

__version__ = "0.1.0"
