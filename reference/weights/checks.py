"""The check declaration of exercise 03: items, points, inputs, hidden cases, tolerances.

Expected values are never written here: every comparison is against what the reference cell
(``solution.py``) produces from the same inputs, through the same sandbox.

Tolerances. scikit-learn fits in the cases run at most a few hundred iterations (the small
network's visible case: 2,897, where it converges). Measured on every case through the
sandbox: repeated runs, and 1, 2 or 4 BLAS/OpenMP threads, give bit-identical observations;
other OpenBLAS kernels (Haswell, SandyBridge, Prescott instead of SkylakeX) change them by at
most 3.8e-15 relative (the magnitudes of a trained network). Only fits of ~9,500 iterations
drifted, by up to 5%, and no case runs one. So ``rtol=1e-6`` for errors (nine orders of room),
``rtol=1e-12`` for magnitudes, ``rtol=1e-9`` between the closed form and gradient descent
(they agree to ~1e-13), and ``rtol=1e-5`` for the PyTorch penalty, summed in float32 in an
order the student chooses. The small network's bound is a factor of 1.5, not a tolerance.

Cost. The grader's cases (sweeps of at most three alphas at max_iter <= 400, small networks
at max_iter 800 and one 4-unit fit that converges after 2,897 iterations) take about 5 s for
the reference; the notebook's own run (the six-alpha sweep at max_iter=20000, two more fits,
a PyTorch demo) about 17-30 s, in parallel. Budget: 45 s per notebook with the reference
cached, on 2 cores; measured with ``time nngrade check`` on the reference-filled notebook:
19.4 s (machine load ~3), 35 s (load ~4).
"""

from nngrade.grader.spec import Case, Exercise, Expect, Item
from nngrade.reference.early_stopping.checks import EXERCISE as EARLY_STOPPING
from nngrade.reference.weights.solution import SOLUTION

# The notebook's data and random state (the same as exercise 02's).
NOTEBOOK = {"seed": 8, "random_state": 3}
RTOL = 1e-6
# The small network's test error may be at most this many times the reference's.
SMALL_NET_FACTOR = 1.5

_GD_VISIBLE = [
    {"n": 10, "mu": 0.5, "lam": 0.1, "w_star": 2.0},
    {"n": 25, "mu": [0.01, 0.1, 1.0, 5.0], "lam": 0.1, "w_star": [1.0, -2.0, 0.5, 3.0]},
    {"n": 0, "mu": [0.3, 2.0], "lam": 0.2, "w_star": [1.5, -1.0]},
]
_GD_HIDDEN = [
    {"n": 1, "mu": [0.0, 1.0, 4.0, 9.5], "lam": 0.1, "w_star": [3.0, -1.0, 2.0, 0.25]},
    {"n": 400, "mu": [1e-4, 1e-2, 1.0, 15.0], "lam": 0.125, "w_star": [-2.0, 0.7, 1.1, 5.0]},
    {"n": 37, "mu": [0.2, 0.9, 1.4, 3.3, 7.0], "lam": 0.3,
     "w_star": [0.1, 0.2, -0.3, 0.4, -0.5]},
]

_ALPHA_CHOICES = {
    "visible": ([1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
                [0.48, 0.25, 0.059, 0.053, 0.106, 0.114]),
    "first": ([0.5, 1.0, 2.0, 4.0], [0.07, 0.08, 0.11, 0.2]),
    "last": ([1e-6, 1e-4, 1e-2, 3e-1, 2.0], [0.9, 0.6, 0.3, 0.2, 0.1]),
    "unsorted": ([0.3, 0.0, 0.003, 0.03, 3.0], [0.12, 0.31, 0.06, 0.045, 0.2]),
    # the notebook: "if several tie, the first"
    "tie": ([1e-3, 1e-2, 1e-1, 0.5, 3.0], [0.09, 0.05, 0.07, 0.05, 0.05]),
}

ITEMS = (
    Item(
        id="weights.gd_component",
        points=2,
        writes=("gd_component",),
        cases=(
            Case("build_nothing", "probe_gd_component",
                 "three inputs: n=10, mu=0.5, lam=0.1, w_star=2.0 (scalars); n=25 with four "
                 "directions at once (mu and w_star arrays); n=0 steps",
                 args={"calls": _GD_VISIBLE}),
            Case("build_nothing", "probe_gd_component",
                 "one step, many steps, a flat direction (mu = 0) and steps with "
                 "mu * lam above 1", hidden=True, args={"calls": _GD_HIDDEN}),
        ),
        expects=(
            *(Expect(f"call_{i}", f"what gd_component returned for the {nth} input",
                     rtol=1e-9, atol=1e-12,
                     hint="(1 - (1 - mu * lam) ** n) * w_star, element by element")
              for i, nth in enumerate(("first", "second", "third"))),
            Expect("agrees_with_descent", "whether gd_component equals n steps of gradient "
                                          "descent on the quadratic", rule="equal",
                   hint="each step multiplies the distance to w_star by (1 - mu * lam)"),
        ),
        hint="Work with NumPy operations so that mu and w_star can be arrays.",
    ),
    Item(
        id="weights.alpha_sweep",
        points=2,
        reads=("x_train", "y_train", "x_test", "y_test", "random_state", "max_iter", "alphas"),
        writes=("test_mse_by_alpha",),
        cases=(
            Case("build_sweep", "probe_sweep",
                 "the notebook's data, three alphas and max_iter=400",
                 args={**NOTEBOOK, "max_iter": 400, "alphas": [1e-4, 1e-2, 1.0]}),
            Case("build_sweep", "probe_sweep",
                 "another data set and random_state, alphas as a NumPy array (0 included)",
                 hidden=True, args={"seed": 11, "random_state": 5, "max_iter": 300,
                                    "alphas": [0.0, 0.03, 0.3], "as_array": True}),
            Case("build_sweep", "probe_sweep",
                 "15 training points and two alphas in decreasing order", hidden=True,
                 args={"seed": 12, "random_state": 0, "max_iter": 250,
                       "alphas": [3.0, 1e-3], "n_train": 15}),
        ),
        expects=(
            Expect("initialisations", "how many networks the sweep trained from fresh random "
                                      "weights (one per alpha)", rule="equal",
                   hint="build a new MLPRegressor for every alpha: a regressor reused with "
                        "warm_start (or partial_fit) starts from the previous alpha's weights"),
            Expect("n_values", "the number of values in test_mse_by_alpha", rule="equal",
                   hint="one test MSE per alpha, in the order of alphas"),
            Expect("test_mse_by_alpha", "test_mse_by_alpha", rtol=RTOL,
                   hint="the recipe with alpha=alpha, max_iter=max_iter and "
                        "random_state=random_state, fitted on the training set; then the "
                        "MSE on the test set"),
        ),
        hint="Loop over alphas (or use a list comprehension); one new regressor each.",
    ),
    Item(
        id="weights.best_alpha",
        points=1,
        reads=("alphas", "test_mse_by_alpha"),
        writes=("best_alpha",),
        cases=(
            Case("build_choice", "probe_choice", "six alphas with a minimum inside",
                 args=dict(zip(("alphas", "errors"), _ALPHA_CHOICES["visible"]))),
            Case("build_choice", "probe_choice", "errors that are lowest for the first alpha",
                 hidden=True, args=dict(zip(("alphas", "errors"), _ALPHA_CHOICES["first"]))),
            Case("build_choice", "probe_choice", "errors that are lowest for the last alpha",
                 hidden=True, args=dict(zip(("alphas", "errors"), _ALPHA_CHOICES["last"]))),
            Case("build_choice", "probe_choice", "alphas that are not in increasing order",
                 hidden=True,
                 args=dict(zip(("alphas", "errors"), _ALPHA_CHOICES["unsorted"]))),
            Case("build_choice", "probe_choice", "three alphas that tie for the lowest error",
                 hidden=True, args=dict(zip(("alphas", "errors"), _ALPHA_CHOICES["tie"]))),
        ),
        expects=(
            Expect("is_position", "whether best_alpha is a position in alphas instead of an "
                                  "alpha", rule="equal",
                   hint="look the position up in alphas: alphas[position]"),
            Expect("later_tie", "whether best_alpha is a later alpha of a tie for the lowest "
                                "error instead of the first", rule="equal",
                   hint="if several alphas tie for the lowest error, take the first: "
                        "np.argmin returns the first position of the minimum (a loop must "
                        "replace the best only on a strictly lower error, < not <=)"),
            Expect("best_alpha", "best_alpha", rule="equal",
                   hint="the entry of alphas whose test error is lowest"),
        ),
        hint="np.argmin gives the position of the lowest error.",
    ),
    Item(
        id="weights.magnitudes",
        points=1,
        reads=("best_reg",),
        writes=("hidden_magnitudes", "output_magnitudes"),
        cases=(
            Case("build_network", "probe_magnitudes", "a trained 1-20-1 network",
                 args={"seed": 31, "random_state": 3, "hidden": 20, "n_features": 1,
                       "alpha": 0.01, "max_iter": 200}),
            Case("build_network", "probe_magnitudes", "a network with 2 inputs and 13 hidden "
                 "units", hidden=True, args={"seed": 32, "random_state": 1, "hidden": 13,
                                             "n_features": 2, "alpha": 0.1,
                                             "max_iter": 150}),
        ),
        expects=tuple(
            expect for name, layer in (("hidden", "coefs_[0]"), ("output", "coefs_[1]"))
            for expect in (
                Expect(f"{name}_magnitudes_shape", f"the shape of {name}_magnitudes",
                       rule="equal",
                       hint=f"a flat array (.ravel()) of the {layer} weights only: "
                            "no biases (intercepts_)"),
                Expect(f"{name}_magnitudes_negative", f"whether {name}_magnitudes holds "
                                                      "negative values", rule="equal",
                       hint="magnitudes are absolute values: np.abs"),
                Expect(f"{name}_magnitudes_sorted", f"the values in {name}_magnitudes",
                       rtol=1e-12, hint=f"the absolute values of best_reg.{layer}"),
            )
        ),
        hint="best_reg.coefs_[0] holds the hidden layer's weights, coefs_[1] the output's.",
    ),
    Item(
        id="weights.count_significant",
        points=1,
        writes=("count_significant",),
        cases=(
            Case("build_nothing", "probe_count",
                 "ten magnitudes, one of them exactly on the threshold, and 20 others",
                 args={"arrays": [{"seed": 40, "size": 20, "rel": 0.1}]}),
            Case("build_nothing", "probe_count",
                 "arrays of 50 and 7 magnitudes, the default and other thresholds, equal "
                 "magnitudes, and a single non-zero one", hidden=True,
                 args={"arrays": [
                     {"seed": 41, "size": 50, "rel": None},
                     {"seed": 42, "size": 50, "rel": 0.25},
                     {"seed": 43, "size": 7, "rel": 0.5},
                     {"seed": 44, "values": [0.3, 0.3, 0.3, 0.3, 0.3], "rel": None},
                     {"seed": 45, "values": [0.0, 0.0, 2.5, 0.0], "rel": 0.1},
                     {"seed": 46, "values": [4.0, 3.9, 0.41, 0.39, 1e-3], "rel": None},
                 ]}),
        ),
        expects=(
            Expect("rule", "the threshold rule count_significant follows", rule="equal",
                   hint="count the magnitudes strictly greater than rel_threshold times the "
                        "largest one (np.max), as the notebook states"),
            Expect("count", "count_significant(magnitudes)", rule="equal"),
            Expect("counts", "count_significant's counts", rule="equal",
                   hint="return a whole number; keep rel_threshold=0.1 as the default"),
        ),
        hint="A comparison with a NumPy array gives booleans; summing them counts the Trues.",
    ),
    Item(
        id="weights.small_net",
        points=1,
        reads=("x_train", "y_train", "x_test", "y_test", "random_state", "max_iter",
               "n_significant"),
        writes=("small_reg", "small_test_mse"),
        cases=(
            Case("build_small", "probe_small",
                 "the notebook's data, 4 hidden units and max_iter=20000",
                 args={**NOTEBOOK, "max_iter": 20000, "n_significant": 4}),
            Case("build_small", "probe_small", "another data set, 3 hidden units and a "
                 "smaller max_iter", hidden=True,
                 args={"seed": 11, "random_state": 5, "max_iter": 800, "n_significant": 3}),
            Case("build_small", "probe_small", "15 training points, 6 hidden units and a "
                 "smaller max_iter", hidden=True,
                 args={"seed": 12, "random_state": 0, "max_iter": 800, "n_significant": 6,
                       "n_train": 15}),
        ),
        expects=(
            Expect("hidden_layer_sizes", "small_reg's hidden layer sizes", rule="equal",
                   hint="one hidden layer of n_significant units: "
                        "hidden_layer_sizes=(n_significant,)"),
            Expect("reports_its_error", "whether small_test_mse is small_reg's test MSE",
                   rule="equal", hint="the MSE of small_reg's predictions on x_test"),
            Expect("test_mse", "small_reg's test error", rule="at_most",
                   factor=SMALL_NET_FACTOR,
                   hint="the recipe of exercise 02 (tanh, tol=1e-7, max_iter=max_iter, "
                        "random_state=random_state), fitted on the training set"),
        ),
        hint="The same recipe with a smaller hidden layer: no other change is needed.",
        timeout=60,
    ),
    Item(
        id="weights.l1_penalty",
        points=2,
        writes=("l1_penalty",),
        cases=(
            Case("build_nothing", "probe_l1", "the 1-20-1 network of the notebook",
                 args={"kind": "notebook", "seed": 5}),
            Case("build_nothing", "probe_l1", "a deeper nn.Sequential with three linear "
                 "layers", hidden=True, args={"kind": "deep", "seed": 6}),
            Case("build_nothing", "probe_l1", "a custom nn.Module with nested layers and a "
                 "layer without bias", hidden=True, args={"kind": "branchy", "seed": 7}),
            Case("build_nothing", "probe_l1", "a single nn.Linear layer, not inside a "
                 "container (its parameters are named weight and bias)", hidden=True,
                 args={"kind": "single", "seed": 8}),
        ),
        expects=(
            Expect("depends_on_biases", "whether l1_penalty changes when only the biases "
                                        "change", rule="equal",
                   hint="biases are not penalized: sum over the weight matrices only "
                        "(parameters named ...weight, or the 2-D ones)"),
            Expect("value", "l1_penalty(model)", rtol=1e-5,
                   hint="the sum of the absolute values of every weight matrix"),
            Expect("differentiable", "whether l1_penalty returns a tensor autograd can "
                                     "differentiate", rule="equal",
                   hint="keep it a torch tensor: no .item(), float() or NumPy"),
        ),
        hint="model.named_parameters() gives (name, tensor) pairs.",
    ),
    Item(id="weights.comment_magnitudes", points=0, manual=True),
    Item(id="weights.comment_l1", points=0, manual=True),
)

EXERCISE = Exercise(
    stem="03_weight_penalization",
    title="Weight penalization and weight magnitudes (scikit-learn, PyTorch)",
    items=ITEMS,
    cases_module="nngrade.reference.weights.cases",
    solution=SOLUTION,
    # exercise 02's imports, and PyTorch for the L1 penalty
    preamble=EARLY_STOPPING.preamble + "import torch\nfrom torch import nn\n",
    preload=(*EARLY_STOPPING.preload, "torch"),
)
