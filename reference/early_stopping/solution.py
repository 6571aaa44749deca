"""The reference solution of exercise 02: the source of every graded cell, by item id.

This is what ``nngrade solution`` fills into the student notebook and what the grader runs,
through the same sandbox as a student's cell, to compute every expected value.
"""

SOLUTION: dict[str, str] = {
    "early_stopping.fit": (
        "reg = MLPRegressor(hidden_layer_sizes=(20,), activation=\"tanh\", tol=1e-7,\n"
        "                   max_iter=max_iter, random_state=random_state)\n"
        "reg.fit(x_train, y_train)\n"
        "train_mse = mean_squared_error(y_train, reg.predict(x_train))\n"
        "test_mse = mean_squared_error(y_test, reg.predict(x_test))\n"
    ),
    "early_stopping.noise_floor": "best_possible_mse = noise_sigma ** 2\n",
    "early_stopping.curve": (
        "reg_curve = MLPRegressor(hidden_layer_sizes=(20,), activation=\"tanh\", tol=1e-7,\n"
        "                         random_state=random_state)\n"
        "train_errors = []\n"
        "test_errors = []\n"
        "for step in range(n_steps):\n"
        "    reg_curve.partial_fit(x_train, y_train)\n"
        "    train_errors.append(mean_squared_error(y_train, reg_curve.predict(x_train)))\n"
        "    test_errors.append(mean_squared_error(y_test, reg_curve.predict(x_test)))\n"
    ),
    "early_stopping.best_iter": "best_n_iter = int(np.argmin(test_errors)) + 1\n",
    "early_stopping.refit": (
        "reg_early = MLPRegressor(hidden_layer_sizes=(20,), activation=\"tanh\", tol=1e-7,\n"
        "                         max_iter=best_n_iter, random_state=random_state)\n"
        "reg_early.fit(x_train, y_train)\n"
        "early_test_mse = mean_squared_error(y_test, reg_early.predict(x_test))\n"
    ),
    "early_stopping.warning": (
        "from sklearn.exceptions import ConvergenceWarning\n"
        "\n"
        "warning_category = ConvergenceWarning\n"
    ),
}
