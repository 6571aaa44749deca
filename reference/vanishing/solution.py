"""The reference solution of exercise 04: the source of every graded cell, by item id.

This is what ``nngrade solution`` fills into the student notebook and what the grader runs,
through the same sandbox as a student's cell, to compute every expected value. The backward
pass is pinned to PyTorch autograd in float64 by tests/test_exercise_04_vanishing.py.
"""

SOLUTION: dict[str, str] = {
    "vanishing.sigmoid": (
        "def sigmoid(x):\n"
        "    \"\"\"The logistic function 1 / (1 + e^-x), elementwise.\"\"\"\n"
        "    x = np.asarray(x, dtype=float)\n"
        "    # e^-|x| is at most 1, so it never overflows; each branch uses the form that\n"
        "    # stays accurate on its side of 0\n"
        "    e = np.exp(-np.abs(x))\n"
        "    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))\n"
        "\n"
        "\n"
        "def sigmoid_prime(x):\n"
        "    \"\"\"The derivative of the sigmoid: sigmoid(x) * (1 - sigmoid(x)).\"\"\"\n"
        "    # 1 - sigmoid(x) = sigmoid(-x), without the cancellation of 1 - s for large x\n"
        "    return sigmoid(x) * sigmoid(-np.asarray(x, dtype=float))\n"
    ),
    "vanishing.max_sigmoid_prime": (
        "# s(1 - s) is a parabola in s = sigmoid(x), largest at s = 1/2, that is at x = 0\n"
        "max_sigmoid_prime = 0.25\n"
    ),
    "vanishing.backward": (
        "def chain_gradients(w, b, x, y, activation=\"sigmoid\"):\n"
        "    \"\"\"dC/dw[l] for every layer l = 0, ..., L-1 of the chain (entry 0 stays 0).\"\"\"\n"
        "    f, f_prime = activation_functions(activation)\n"
        "    z, a = forward(w, b, x, activation)\n"
        "    L = len(w)\n"
        "    grad = np.zeros(L)\n"
        "    delta = np.zeros(L)\n"
        "    # dC/dz at the output: the signed error times the activation's slope there\n"
        "    delta[L - 1] = (a[L - 1] - y) * f_prime(z[L - 1])\n"
        "    for l in range(L - 2, 0, -1):\n"
        "        delta[l] = w[l + 1] * delta[l + 1] * f_prime(z[l])\n"
        "    grad[1:] = delta[1:] * a[:-1]\n"
        "    return grad\n"
    ),
    "vanishing.history": (
        "def train_chain(L, eta, n_epoch, seed, activation=\"sigmoid\"):\n"
        "    \"\"\"Gradient descent on the weights; row e holds |dC/dw[l]|, l = 1..L-1, before\n"
        "    update e.\"\"\"\n"
        "    rng = np.random.default_rng(seed)\n"
        "    w = rng.random(L)\n"
        "    b = rng.random(L)\n"
        "    history = np.zeros((n_epoch, L - 1))\n"
        "    for epoch in range(n_epoch):\n"
        "        grad = chain_gradients(w, b, X_INPUT, Y_TARGET, activation)\n"
        "        history[epoch] = np.abs(grad[1:])\n"
        "        w = w - eta * grad\n"
        "    return history\n"
    ),
    "vanishing.bound": (
        "def gradient_ratio_bound(L):\n"
        "    \"\"\"Bound on |dC/dw[1]| / |dC/dw[L-1]| for weights and biases in [0, 1]:\n"
        "    L - 2 factors w * sigmoid'(z), each at most 1/4.\"\"\"\n"
        "    return 0.25 ** (L - 2)\n"
    ),
    "vanishing.relu": (
        "def relu(x):\n"
        "    \"\"\"max(x, 0), elementwise.\"\"\"\n"
        "    return np.maximum(x, 0.0)\n"
        "\n"
        "\n"
        "def relu_prime(x):\n"
        "    \"\"\"1 where x > 0, else 0 (the slope at exactly 0 is taken as 0).\"\"\"\n"
        "    return np.where(np.asarray(x) > 0, 1.0, 0.0)\n"
    ),
}
