"""The reference solution of exercise 01: the source of every graded cell, by item id.

This is what ``nngrade solution`` fills into the student notebook and what the grader runs,
through the same sandbox as a student's cell, to compute every expected value.
"""

SOLUTION: dict[str, str] = {
    "insurance.filter": 'df = df[df["smoker"] == "no"]\n',
    "insurance.model": (
        "model = nn.Sequential(\n"
        "    nn.Linear(1, 16),\n"
        "    nn.ReLU(),\n"
        "    nn.Linear(16, 1),\n"
        ")\n"
    ),
    "insurance.loss_opt": (
        "criterion = nn.MSELoss()\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.001)\n"
    ),
    "insurance.train_step": (
        "losses = []\n"
        "for epoch in range(n_epochs):\n"
        "    loss = criterion(model(X_train), y_train)\n"
        "    optimizer.zero_grad()\n"
        "    loss.backward()\n"
        "    optimizer.step()\n"
        "    losses.append(loss.item())\n"
    ),
    "insurance.evaluate": (
        "with torch.no_grad():\n"
        "    y_pred = model(X_test)\n"
        "    test_loss = criterion(y_pred, y_test).item()\n"
    ),
    "insurance.plot": (
        "actual = scaler_y.inverse_transform(y_test.numpy())\n"
        "predicted = scaler_y.inverse_transform(y_pred.numpy())\n"
        "fig, ax = plt.subplots(figsize=(6, 6))\n"
        "ax.scatter(actual, predicted, s=10, alpha=0.6)\n"
        "ax.set_xlabel(\"actual charges ($)\")\n"
        "ax.set_ylabel(\"predicted charges ($)\")\n"
        "ax.set_title(\"Test set: predicted against actual\")\n"
        "plt.show()\n"
    ),
}
