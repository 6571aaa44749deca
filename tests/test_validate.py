"""The self-test's look at the preload: a notebook import the fork server does not load is
paid again by every item run (05 once paid 0.7 s a sandbox for ``sklearn.datasets``). That
``nngrade validate`` fails an exercise with such a gap is pinned by ``test_cli``'s
validation of 05."""

from nngrade.grader.grading.validate import imported_modules, unloaded


def test_imported_modules_names_what_the_statements_load_outside_the_standard_library():
    statements = ["import numpy as np", "from torch import nn", "import time",
                  "from . import helpers", "import os.path, sklearn.datasets",
                  "from scipy import ndimage", "import numpy"]
    assert imported_modules(statements) == ["numpy", "torch", "sklearn.datasets", "scipy"]


def test_unloaded_names_the_modules_the_preload_leaves_out():
    # xml.dom.minidom loads xml.dom, not xml.sax: a fresh interpreter tells them apart
    assert unloaded(("xml.dom.minidom",), ["xml.dom", "xml.sax"]) == ["xml.sax"]
    assert unloaded(("xml.dom.minidom", "xml.sax"), ["xml.dom", "xml.sax"]) == []

