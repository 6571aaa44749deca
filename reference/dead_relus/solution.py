"""The reference solution of exercise 08: the source of every graded cell, by item id.

This is what ``nngrade solution`` fills into the student notebook and what the grader runs,
through the same sandbox as a student's cell, to compute every expected value.
"""

SOLUTION: dict[str, str] = {
    "dead_relus.linear_floor": (
        "def with_ones(X):\n"
        "    return torch.cat([torch.ones(len(X), 1, dtype=torch.float64), X.double()], dim=1)\n"
        "\n"
        "beta = torch.linalg.lstsq(with_ones(X_train), y_train.double()).solution.ravel()\n"
        "r_train = (y_train.double() - with_ones(X_train) @ beta[:, None]).float()\n"
        "r_test = (y_test.double() - with_ones(X_test) @ beta[:, None]).float()\n"
        "linear_test_mse = float((r_test.double() ** 2).mean())\n"
    ),
    "dead_relus.dead_fraction": (
        "def dead_relu_fraction(model, X):\n"
        "    \"\"\"Share of the units after nn.ReLU layers that are 0 on every row.\"\"\"\n"
        "    dead, total = 0, 0\n"
        "    with torch.no_grad():\n"
        "        h = X\n"
        "        for layer in model:\n"
        "            h = layer(h)\n"
        "            if isinstance(layer, nn.ReLU):\n"
        "                dead += int((h == 0).all(dim=0).sum())\n"
        "                total += h.shape[1]\n"
        "    return dead / total if total else 0.0\n"
    ),
    "dead_relus.residual_fit": (
        "def train_residual_net(model, X, r, n_epochs, lr):\n"
        "    \"\"\"Full-batch Adam on the MSE of model(X) against r; one loss per epoch.\"\"\"\n"
        "    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n"
        "    losses = []\n"
        "    for epoch in range(n_epochs):\n"
        "        loss = nn.functional.mse_loss(model(X), r)\n"
        "        optimizer.zero_grad()\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "        losses.append(loss.item())\n"
        "    return losses\n"
    ),
    "dead_relus.diagnosis": (
        "broken_dead_fraction = dead_relu_fraction(broken_model, X_train)\n"
        "with torch.no_grad():\n"
        "    broken_test_mse = float(((r_test - broken_model(X_test)) ** 2).mean())\n"
        "stalled = broken_test_mse > 0.95 * linear_test_mse\n"
    ),
    "dead_relus.fix": (
        "torch.manual_seed(0)\n"
        "fixed_model = nn.Sequential(\n"
        "    nn.Linear(3, 32), nn.LeakyReLU(0.1),\n"
        "    nn.Linear(32, 32), nn.LeakyReLU(0.1),\n"
        "    nn.Linear(32, 1),  # no ReLU on the output: residuals are negative too\n"
        ")\n"
        "fixed_losses = train_residual_net(fixed_model, X_train, r_train, n_epochs, lr=0.01)\n"
    ),
    "dead_relus.explanation": (
        "The broken network ends with a ReLU. The residuals of the linear model have mean 0, "
        "so about half of them are negative, which a ReLU output can never predict; early in "
        "training the output unit's pre-activation is pushed below 0 on every row, its output "
        "and its gradient become exactly 0, and no weight moves again: the prediction is 0 "
        "and the held-out error is exactly the linear floor. Removing the output ReLU (and "
        "using LeakyReLU, whose gradient is never 0, in the hidden layers) lets the network "
        "fit the sine part: it removes about 60% of the floor.\n"
    ),
}
