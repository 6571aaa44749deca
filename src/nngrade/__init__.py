"""nngrade: auto-graded neural-network exercises.

The import root maps onto the project's top-level folders: ``nngrade.grader`` (the engine),
``nngrade.reference`` (reference solutions and check declarations), ``nngrade.datasets`` (the
data registry and loader) and ``nngrade.exercises`` (the student notebooks).
"""

__version__ = "0.1.0"


def check(item: str | None = None, *, path: str | None = None,
          timeout: float | None = None) -> None:
    """Grade this notebook's saved file in the sandbox and show the result (in a notebook:
    an HTML table; elsewhere: the text of ``nngrade check``). ``item`` shows one item only,
    e.g. ``nngrade.check("insurance.filter")``; ``path`` names the file when the kernel cannot
    tell it; ``timeout`` caps each cell's run time in seconds. Student code never runs in
    this process: the check runs ``python -m nngrade check`` in a process of its own."""
    from nngrade.grader.inside import check as _check  # on use: `import nngrade` stays light

    _check(item, path=path, timeout=timeout)
