"""Build the sample class of exercise 01 in ``examples/class01/``.

Each student's notebook is the blank notebook with some graded cells filled by the reference
and others by the variant below, so every answer is a realistic one: right but written
differently, almost right, raising, looping forever, or a file that is not a notebook at all.
Run ``python examples/make_class01.py`` after changing the exercise 01 notebook or reference.
The tests grade these same notebooks.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import nbformat

from nngrade.grader.grading.solution import filled_notebook
from nngrade.reference import load_exercise

STEM = "01_insurance_regression"

# Right, but unlike the reference in every cell.
ALICE = {
    "insurance.filter": 'df = df.query("smoker == \'no\'").reset_index(drop=True)\n',
    "insurance.model": (
        "import torch.nn.functional as F\n\n"
        "class Regressor(nn.Module):\n"
        "    def __init__(self, hidden=32):\n"
        "        super().__init__()\n"
        "        self.inp = nn.Linear(1, hidden)\n"
        "        self.out = nn.Linear(hidden, 1)\n\n"
        "    def forward(self, x):\n"
        "        return self.out(F.relu(self.inp(x)))\n\n"
        "model = Regressor()\n"
    ),
    "insurance.loss_opt": (
        'criterion = torch.nn.MSELoss(reduction="mean")\n'
        "optimizer = torch.optim.SGD(params=model.parameters(), lr=1e-3)\n"
    ),
    "insurance.train_step": (
        "losses = []\n"
        "for epoch in range(n_epochs):\n"
        "    prediction = model(X_train)\n"
        "    loss = ((prediction - y_train) ** 2).mean()\n"
        "    loss.backward()\n"
        "    optimizer.step()\n"
        "    optimizer.zero_grad()\n"
        "    losses.append(loss.item())\n"
    ),
    "insurance.evaluate": (
        "model.eval()\n"
        "with torch.no_grad():\n"
        "    y_pred = model.forward(X_test)\n"
        "    test_loss = float(torch.mean((y_pred - y_test) ** 2))\n"
        'print(f"test loss: {test_loss:.4f}")\n'
    ),
    "insurance.plot": (
        "ages = scaler_X.inverse_transform(X_test.numpy()).ravel()\n"
        "order = ages.argsort()\n"
        "plt.scatter(ages, scaler_y.inverse_transform(y_test.numpy()).ravel(), label='actual')\n"
        "plt.plot(ages[order], scaler_y.inverse_transform(y_pred.numpy()).ravel()[order], 'r-',\n"
        "         label='predicted')\n"
        "plt.xlabel('age'); plt.ylabel('charges ($)'); plt.legend(); plt.show()\n"
    ),
}

# Almost right: smokers kept, no activation, a ten times larger learning rate.
BOB = {
    "insurance.filter": 'df = df[df.smoker == "yes"]\n',
    "insurance.model": "model = nn.Sequential(nn.Linear(1, 16), nn.Linear(16, 1))\n",
    "insurance.loss_opt": (
        "criterion = nn.MSELoss()\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n"
    ),
}

# Almost right: step() before backward(), Adam instead of SGD, plot in standardised units.
CAROL = {
    "insurance.loss_opt": (
        "criterion = nn.MSELoss()\n"
        "optimizer = torch.optim.Adam(model.parameters(), lr=0.001)\n"
    ),
    "insurance.train_step": (
        "losses = []\n"
        "for epoch in range(n_epochs):\n"
        "    loss = criterion(model(X_train), y_train)\n"
        "    optimizer.zero_grad()\n"
        "    optimizer.step()\n"
        "    loss.backward()\n"
        "    losses.append(loss.item())\n"
    ),
    "insurance.plot": "plt.scatter(y_test.numpy(), y_pred.numpy())\nplt.show()\n",
}

# Forgets zero_grad; the evaluation cell raises.
DAVE = {
    "insurance.train_step": (
        "losses = []\n"
        "for epoch in range(n_epochs):\n"
        "    loss = criterion(model(X_train), y_train)\n"
        "    loss.backward()\n"
        "    optimizer.step()\n"
        "    losses.append(loss.item())\n"
    ),
    "insurance.evaluate": (
        "with torch.no_grad():\n"
        "    y_pred = model(X_test)\n"
        "    test_loss = criterion(y_pred, y_test.reshape(-1)).item() / len(y_tset)\n"
    ),
}

# The model cell never ends.
ERIN = {
    "insurance.model": (
        "model = nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Linear(16, 1))\n"
        "while True:  # waiting for something that never happens\n"
        "    pass\n"
    ),
}

STUDENTS = {"alice": ALICE, "bob": BOB, "carol": CAROL, "dave": DAVE, "erin": ERIN}
CORRUPT = "frank"


def notebook_for(answers: dict[str, str]) -> nbformat.NotebookNode:
    """The reference-filled notebook with the given cells replaced by these answers."""
    nb = copy.deepcopy(filled_notebook(load_exercise(STEM)))
    for cell in nb.cells:
        item = cell.get("metadata", {}).get("nngrade", {}).get("item")
        if item in answers:
            cell.source = answers[item]
    return nb


def build(root: Path) -> list[Path]:
    """Write the sample class under ``root``, one folder per student; returns the files."""
    written = []
    for student, answers in STUDENTS.items():
        path = root / student / f"{STEM}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook_for(answers), str(path))
        written.append(path)
    corrupt = root / CORRUPT / f"{STEM}.ipynb"
    corrupt.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(notebook_for({}))
    corrupt.write_text(text[: len(text) // 3], encoding="utf-8")  # an upload cut short
    written.append(corrupt)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "class01"
    for path in build(out):
        print(path)
