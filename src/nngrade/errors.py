"""The one tree of exceptions of nngrade, named for what went wrong.

::

    NngradeError                 every error nngrade raises on purpose
    ├── SetupError               the package cannot work here; stops the run, for the instructor
    │   ├── DatasetError         a data file is missing, unreachable or fails its checksum
    │   ├── UnknownExerciseError no exercise of that name
    │   ├── DeclarationError     an exercise's declaration does not fit its cases or reference
    │   ├── CourseError          a course folder or package is missing or not shaped as one
    │   ├── ReleaseError         a student release is missing, damaged or would leak the reference
    │   ├── ReferenceFailure     the reference, or the grader's own inputs, failed
    │   └── ClusterError         the Dask cluster cannot grade (not installed, a differing
    │                            worker, the scheduler gone)
    ├── SubmissionError          one notebook cannot be graded at all; costs that notebook only
    ├── UsageError               the command was given something it cannot use
    │   ├── NotebookNotFoundError nngrade.check() cannot tell which notebook file to grade
    │   └── UnknownItemError     nngrade.check(ITEM) names an item the notebook does not have
    ├── CheckRunError            nngrade.check()'s grader process ended without a report
    ├── ObservationError         bytes from a sandbox that are not a valid observation
    └── ProbeError               a probe cannot inspect what a cell produced (a student's sentence)
        └── ForbiddenCall        a from-scratch function called a library function it may not

Callers catch by meaning: a ``SubmissionError`` costs that submission, a ``SetupError`` stops
the run with a message for the instructor; ``ObservationError`` and ``ProbeError`` become the
message of one item. Errors that concern an exercise or an item carry them as attributes
(``exercise``, ``item``) and, where there is one, the file (``path``).
"""

from __future__ import annotations


class NngradeError(Exception):
    """Base of every error nngrade raises on purpose.

    ``path``, ``exercise`` and ``item`` say what the error concerns, where it concerns one."""

    def __init__(self, message: str = "", *, path: str | None = None,
                 exercise: str | None = None, item: str | None = None) -> None:
        super().__init__(message)
        self.path, self.exercise, self.item = path, exercise, item


class SetupError(NngradeError):
    """The package cannot work here: missing data, a broken reference, a bad option."""


class DatasetError(SetupError):
    """A data file is missing, unreachable or does not match its checksum."""


class UnknownExerciseError(SetupError):
    """No exercise of that name is in the reference."""


class DeclarationError(SetupError):
    """An exercise's declaration names a build or probe its cases module lacks, or expects a
    key the reference's observation does not have."""


class CourseError(SetupError):
    """A course (``--course``, ``NNGRADE_COURSE``, an installed course package) cannot be found
    or lacks the shape of one (``exercises/*.ipynb`` and ``reference/<name>/``)."""


class ReleaseError(SetupError):
    """A student release cannot be read (missing, damaged, of another format), or cannot be
    written without shipping part of the reference (a cases module that imports a solution)."""


class ReferenceFailure(SetupError):
    """The reference solution failed (a case, or the reference notebook's own run); or the
    grader's own inputs failed while a student's cell was graded. A problem of the package,
    never of the student."""


class ClusterError(SetupError):
    """Grading on a Dask cluster cannot start or go on: ``distributed`` is not installed, a
    worker runs another nngrade or reference, or the scheduler went away."""


class SubmissionError(NngradeError):
    """A submitted notebook cannot be graded at all (unreadable, invalid, not an exercise)."""


class UsageError(NngradeError):
    """The command was given something it cannot use (a path that does not exist)."""


class NotebookNotFoundError(UsageError):
    """``nngrade.check()`` cannot tell which notebook file the kernel runs (or the given path
    is not a notebook file)."""


class UnknownItemError(UsageError):
    """``nngrade.check(ITEM)`` names an item id the notebook does not have."""


class CheckRunError(NngradeError):
    """The grader process that ``nngrade.check()`` started ended without printing a report."""


class ObservationError(NngradeError, ValueError):
    """Data from a sandbox that is not a valid observation."""


class ProbeError(NngradeError):
    """Raised by a probe when the student's result cannot be inspected; the message is a
    sentence the student can act on ("model(x) returned shape (5,), expected (5, 1)")."""


class ForbiddenCall(ProbeError):
    """Raised in place of a library function inside a function that must be written from
    scratch."""
