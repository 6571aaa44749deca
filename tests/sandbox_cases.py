"""A tiny cases module for the sandbox tests (imported inside sandboxed children)."""

from nngrade.grader.probes import ProbeError


def build(**kw):
    """The inputs every test cell reads."""
    return {"x": 3}


def probe(ns, **kw):
    """What the test cells produce."""
    if not isinstance(ns["y"], int):
        raise ProbeError("y should be an int")
    return {"y": ns["y"]}


def build_broken(**kw):
    """Inputs the grader fails to build (its own bug, not the student's)."""
    raise RuntimeError("the grader's inputs could not be built")


def build_x(x=3, **kw):
    """Inputs of one case of a batch: ``x`` as given."""
    return {"x": x}


_KEPT: list = []


def build_kept(x=3, **kw):
    """Inputs that also leave something for the probe in this module (as a held-out set)."""
    _KEPT[:] = [x]
    return {"x": x}


def probe_kept(ns, **kw):
    """What the cell produced, and what its own case's builder kept."""
    return {"y": ns["y"], "kept": _KEPT[0]}
