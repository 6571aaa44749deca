"""The reference solution of exercise 03: the source of every graded cell, by item id.

This is what ``nngrade solution`` fills into the student notebook and what the grader runs,
through the same sandbox as a student's cell, to compute every expected value.
"""

SOLUTION: dict[str, str] = {
    "weights.gd_component": (
        "def gd_component(n, mu, lam, w_star):\n"
        "    \"\"\"Component of the weights along an eigenvector after n gradient steps from 0.\"\"\"\n"
        "    mu = np.asarray(mu, dtype=float)\n"
        "    return (1.0 - (1.0 - mu * lam) ** n) * np.asarray(w_star, dtype=float)\n"
    ),
    "weights.alpha_sweep": (
        "test_mse_by_alpha = []\n"
        "for alpha in alphas:\n"
        "    reg = MLPRegressor(hidden_layer_sizes=(20,), activation=\"tanh\", tol=1e-7,\n"
        "                       max_iter=max_iter, random_state=random_state, alpha=alpha)\n"
        "    reg.fit(x_train, y_train)\n"
        "    test_mse_by_alpha.append(mean_squared_error(y_test, reg.predict(x_test)))\n"
    ),
    "weights.best_alpha": "best_alpha = alphas[int(np.argmin(test_mse_by_alpha))]\n",
    "weights.magnitudes": (
        "hidden_magnitudes = np.abs(best_reg.coefs_[0]).ravel()\n"
        "output_magnitudes = np.abs(best_reg.coefs_[1]).ravel()\n"
    ),
    "weights.count_significant": (
        "def count_significant(magnitudes, rel_threshold=0.1):\n"
        "    \"\"\"How many magnitudes are strictly above rel_threshold times the largest.\"\"\"\n"
        "    magnitudes = np.asarray(magnitudes, dtype=float)\n"
        "    return int(np.sum(magnitudes > rel_threshold * magnitudes.max()))\n"
    ),
    "weights.small_net": (
        "small_reg = MLPRegressor(hidden_layer_sizes=(n_significant,), activation=\"tanh\",\n"
        "                         tol=1e-7, max_iter=max_iter, random_state=random_state)\n"
        "small_reg.fit(x_train, y_train)\n"
        "small_test_mse = mean_squared_error(y_test, small_reg.predict(x_test))\n"
    ),
    "weights.l1_penalty": (
        "def l1_penalty(model):\n"
        "    \"\"\"Sum of the absolute values of every weight matrix of model (no biases).\"\"\"\n"
        "    return sum(p.abs().sum() for name, p in model.named_parameters()\n"
        "               if name.endswith(\"weight\"))\n"
    ),
}
