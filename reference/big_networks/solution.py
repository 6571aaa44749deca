"""The reference solution of exercise 06: the source of every graded cell, by item id.

This is what ``nngrade solution`` fills into the student notebook and what the grader runs,
through the same sandbox as a student's cell, to compute every expected value.
"""

SOLUTION: dict[str, str] = {
    "big_networks.count_parameters": (
        "def count_parameters(model):\n"
        "    return sum(p.numel() for p in model.parameters() if p.requires_grad)\n"
    ),
    "big_networks.model": (
        "def make_network(seed):\n"
        "    torch.manual_seed(seed)\n"
        "    layers = [nn.Linear(1, 100), nn.ReLU()]\n"
        "    for _ in range(4):\n"
        "        layers += [nn.Linear(100, 100), nn.ReLU()]\n"
        "    layers.append(nn.Linear(100, 1))\n"
        "    return nn.Sequential(*layers)\n"
        "\n"
        "model = make_network(0)\n"
    ),
    "big_networks.fit_network": (
        "def train_network(model, X, Y, n_epochs, lr):\n"
        "    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n"
        "    loss_fn = nn.MSELoss()\n"
        "    losses = []\n"
        "    for epoch in range(n_epochs):\n"
        "        optimizer.zero_grad()\n"
        "        loss = loss_fn(model(X), Y)\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "        losses.append(loss.item())\n"
        "    return losses\n"
        "\n"
        "\n"
        "def network_mse(model, X, Y):\n"
        "    with torch.no_grad():\n"
        "        return nn.functional.mse_loss(model(X), Y).item()\n"
        "\n"
        "\n"
        "losses = train_network(model, X_train, Y_train, n_epochs, lr)\n"
        "net_test_mse = network_mse(model, X_test, Y_test)\n"
    ),
    "big_networks.fit_line": (
        "def fit_line(x, y):\n"
        "    design = np.column_stack([np.ones_like(x), x])\n"
        "    (intercept, slope), *_ = np.linalg.lstsq(design, y, rcond=None)\n"
        "    return float(intercept), float(slope)\n"
        "\n"
        "\n"
        "intercept, slope = fit_line(x_train, y_train)\n"
        "line_test_mse = float(np.mean((intercept + slope * x_test - y_test) ** 2))\n"
    ),
    "big_networks.learning_curve": (
        "def learning_curve(sizes, n_epochs, lr, seed=1):\n"
        "    net_errors, line_errors = [], []\n"
        "    for n in sizes:\n"
        "        x, y = make_data(n, seed=seed)\n"
        "        net = make_network(0)\n"
        "        train_network(net, to_tensor(x), to_tensor(y), n_epochs, lr)\n"
        "        net_errors.append(network_mse(net, X_test, Y_test))\n"
        "        b0, b1 = fit_line(x, y)\n"
        "        line_errors.append(np.mean((b0 + b1 * x_test - y_test) ** 2))\n"
        "    return np.array(net_errors), np.array(line_errors)\n"
        "\n"
        "\n"
        "net_curve, line_curve = learning_curve(sizes, n_epochs, lr)\n"
    ),
}
