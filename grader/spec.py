"""Check declarations: what an exercise's reference declares, as plain data.

An exercise is content only (a notebook, a reference, a declaration). The engine reads these
values and never imports anything exercise-specific except the exercise's ``cases`` module,
which builds the inputs a cell reads and probes what it produced, inside the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

Rule = Literal["close", "equal", "at_most", "at_least", "contains"]


ABS_FLOOR = 1e-12


@dataclass(frozen=True)
class Expect:
    """One comparison of a student's observation with the reference's, by key.

    ``what`` names the observed thing in a student's words ("the rows kept in df");
    ``hint`` says what to look at when this comparison fails. The rules:

    - ``close``: same shape, and ``|found - expected| <= atol + rtol * |expected|``
      elementwise. ``atol`` defaults to ``ABS_FLOOR`` (1e-12, as pytest's ``approx``) so that an
      expected exact zero accepts rounding noise instead of demanding an exact zero; NaN
      where the reference has NaN is equal (both computed the same undefined value).
    - ``equal``: exactly equal (arrays: same shape and values; numbers: 448 == 448.0, a bool is
      never a number; NaN equals NaN for the same reason as above); tolerances are ignored.
    - ``at_most`` / ``at_least``: one number against ``factor`` times the reference's; NaN
      meets no bound.
    - ``contains``: every expected array is among the found ones, each compared as ``close``.
    """

    key: str
    what: str
    rule: Rule = "close"
    rtol: float = 1e-7
    atol: float = ABS_FLOOR
    factor: float = 1.0
    hint: str = ""


@dataclass(frozen=True)
class Case:
    """Inputs the grader controls for one run of an item's cell.

    ``build`` and ``probe`` name functions of the exercise's ``cases`` module: ``build(**args)``
    returns the names the cell reads; ``probe(namespace, **args)`` returns plain data about what
    the cell produced. ``describe`` is what a student is told about a hidden case: the kind of
    input, never its values.
    """

    build: str
    probe: str
    describe: str
    hidden: bool = False
    args: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0


@dataclass(frozen=True)
class Trained:
    """How an item's ``state`` expectations are measured without trusting the student's kernel.

    A later cell of the notebook could overwrite any value its kernel holds (``test_loss =
    0.0``), so the kernel only sends the weights (``state_dict``) of the module named
    ``module``; in a sandbox, the cell of item ``cell`` rebuilds that module's architecture
    from grader inputs (``build``), and ``probe(namespace, weights=...)`` loads the weights
    and measures (the test loss on the grader's own test set, say). The reference notebook's
    weights go through the same path.
    """

    module: str
    cell: str
    build: str
    probe: str


@dataclass(frozen=True)
class Item:
    """One graded cell: its id, points, contract and checks.

    ``expects`` are checked on every case; ``state`` expectations are checked on what the
    whole notebook left behind (its own run), against the reference notebook's: measured as
    ``trained`` says where it is given, else read from the kernel's final values.
    """

    id: str
    points: float
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    cases: tuple[Case, ...] = ()
    expects: tuple[Expect, ...] = ()
    state: tuple[Expect, ...] = ()
    trained: Trained | None = None
    hint: str = ""
    manual: bool = False
    timeout: float = 30.0


@dataclass(frozen=True)
class Origin:
    """Where a loaded exercise's content lives; set by the course that loads it, never written
    in a declaration. ``notebook`` is the blank notebook file; ``reference`` the course's folder
    of reference packages (hidden from student code, part of the fingerprint); ``mounts`` the
    (package name, folder) pairs a process makes importable before it imports ``cases_module``
    (a course outside the package, a release's public cases)."""

    notebook: str
    reference: str
    mounts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Exercise:
    """An exercise: its notebook stem, its items, and where its content lives.

    ``data`` names the data files (``nngrade.datasets`` registry) the notebook and its cases
    read; the grader makes sure they are on disk before any student code runs, because
    nothing is downloaded while a submission runs. ``preload`` names the modules the warm
    fork server imports once, so that an item run does not pay for them (library modules
    only: a forked child inherits everything the server holds): every module the notebook
    imports (``nngrade validate`` says which are missing), and ``torch._dynamo`` where the
    cells build a torch optimizer (its first one imports it, 0.95 s).
    """

    stem: str
    title: str
    items: tuple[Item, ...]
    cases_module: str
    solution: Mapping[str, str]
    preamble: str = ""
    data: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    origin: Origin | None = None  # None: the built-in course (nngrade.reference)

    @property
    def max_score(self) -> float:
        """Total automatic points of the exercise."""
        return sum(item.points for item in self.items if not item.manual)

    @property
    def needs_run(self) -> bool:
        """True when a grade depends on the notebook's own run (an item checks what the whole
        notebook left behind); otherwise the item runs alone decide every point."""
        return any(item.state or item.trained is not None for item in self.items)

    def item(self, item_id: str) -> Item:
        """The item with this id (KeyError if the exercise has none)."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)
