"""The one tree of exceptions of nngrade, named for what went wrong.

Callers catch by meaning: a submission that cannot be read is a ``SubmissionError`` and costs
that submission only; a problem of the package itself (a missing data file, a reference that
does not run) is a ``SetupError`` and stops the run with a message for the instructor.
"""


class NngradeError(Exception):
    """Base of every error nngrade raises on purpose."""


class SetupError(NngradeError):
    """The package cannot work here: missing data, a broken reference, a bad option."""


class DatasetError(SetupError):
    """A data file is missing, unreachable or does not match its checksum."""


class UnknownExerciseError(SetupError):
    """No exercise of that name is in the reference."""


class SubmissionError(NngradeError):
    """A submitted notebook cannot be graded at all (unreadable, invalid, not an exercise)."""


class UsageError(NngradeError):
    """The command was given something it cannot use (a path that does not exist)."""
