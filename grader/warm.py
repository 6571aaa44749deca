"""Preloaded by the fork server: the heavy imports, done once per grading session.

Forking from an interpreter that has already imported torch takes milliseconds instead of the
1.5-2.5 s of imports. This module holds no exercise content: a forked child inherits all of
this process's memory, so nothing from the reference, a hidden case or a student is loaded
here. Only tiny tensors are used, so torch's OpenMP pool is never started (a child forked
after it started hangs on its first matmul).
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot  # noqa: E402,F401
import numpy  # noqa: E402,F401
import pandas  # noqa: E402,F401
import sklearn.model_selection  # noqa: E402,F401
import sklearn.neural_network  # noqa: E402,F401
import sklearn.preprocessing  # noqa: E402,F401
import torch  # noqa: E402

import nngrade.grader.observe  # noqa: E402,F401

try:  # finding libseccomp runs ldconfig twice (25 ms): once here, not in every child
    import pyseccomp  # noqa: F401
except (ImportError, OSError, AttributeError):
    pass
import nngrade.grader.worker  # noqa: E402,F401

torch.set_num_threads(1)


def _warm_torch_training() -> None:
    # The first optimizer built in a process lazily imports hundreds of modules (~1 s).
    layer = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    loss = torch.nn.MSELoss()(layer(torch.zeros(2, 1)), torch.ones(2, 1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    torch.optim.Adam(layer.parameters())


_warm_torch_training()
