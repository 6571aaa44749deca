"""The check declaration of exercise 02: items, points, inputs, hidden cases, tolerances.

Expected values are never written here: every comparison is against what the reference cell
(``solution.py``) produces from the same inputs, through the same sandbox.

Tolerances. The grader's cases train for at most a few hundred steps. Measured on every
case of exercises 02 and 03 through the sandbox: repeated runs, and 1, 2 or 4 BLAS/OpenMP
threads, give bit-identical observations (the matrices are 10x20); other OpenBLAS kernels
(Haswell, SandyBridge, Prescott instead of SkylakeX) change them by at most 3.8e-15 relative,
and a 2,000-step ``partial_fit`` curve by 1.4e-15. Only fits of thousands of iterations drift
(up to 5% after ~9,500 iterations), and no case runs one. ``rtol=1e-6`` leaves nine orders of
magnitude of room and still fails any real mistake.

Cost. The grader's cases (three fits of at most 500 iterations, curves of at most 150 steps)
take about 2.5 s for the reference; the notebook's own run (a 20,000-iteration fit that stops
after ~9,500, a 3,000-step curve) about 12-18 s, in parallel. Budget: 30 s per notebook with
the reference cached, on 2 cores; measured with ``time nngrade check`` on the reference-filled
notebook: 10.6 s (machine load ~3), 23 s (load ~4).
"""

from nngrade.grader.spec import Case, Exercise, Expect, Item
from nngrade.reference.early_stopping.solution import SOLUTION

# The notebook's data and random state; every hidden case changes both.
NOTEBOOK = {"seed": 8, "random_state": 3}
RTOL = 1e-6

_RECIPE_HINT = ("use the recipe: MLPRegressor(hidden_layer_sizes=(20,), activation=\"tanh\", "
                "tol=1e-7, max_iter=max_iter, random_state=random_state)")


def _settings(max_iter_what: str) -> tuple[Expect, ...]:
    return (
        Expect("hidden_layer_sizes", "the hidden layer sizes", rule="equal", hint=_RECIPE_HINT),
        Expect("activation", "the activation", rule="equal", hint=_RECIPE_HINT),
        Expect("tol", "the tolerance tol", rule="equal", hint=_RECIPE_HINT),
        Expect("max_iter", max_iter_what, rule="equal"),
        Expect("random_state", "the random_state", rule="equal",
               hint="pass random_state=random_state, the name the cell is given"),
    )


ITEMS = (
    Item(
        id="early_stopping.fit",
        points=2,
        reads=("x_train", "y_train", "x_test", "y_test", "random_state", "max_iter"),
        writes=("reg", "train_mse", "test_mse"),
        cases=(
            Case("build_fit", "probe_fit", "the notebook's data with max_iter=500",
                 args={**NOTEBOOK, "max_iter": 500}),
            Case("build_fit", "probe_fit", "data drawn with another seed and another "
                 "random_state", hidden=True, args={"seed": 11, "random_state": 5,
                                                    "max_iter": 300}),
            Case("build_fit", "probe_fit", "15 training points and another random_state",
                 hidden=True, args={"seed": 12, "random_state": 0, "max_iter": 300,
                                    "n_train": 15}),
        ),
        expects=(
            *_settings("the regressor's max_iter (use the name max_iter: the grader sets it)"),
            Expect("predictions", "reg's predictions on x_test", rtol=RTOL,
                   hint="fit on the training set only: reg.fit(x_train, y_train)"),
            Expect("train_mse", "train_mse", rtol=RTOL,
                   hint="the mean squared error of reg's predictions on x_train against "
                        "y_train (not its square root)"),
            Expect("test_mse", "test_mse", rtol=RTOL,
                   hint="the mean squared error of reg's predictions on x_test against y_test"),
        ),
        hint="Build the regressor, fit it on (x_train, y_train), then compare predictions "
             "with targets using mean_squared_error.",
    ),
    Item(
        id="early_stopping.noise_floor",
        points=1,
        reads=("noise_sigma",),
        writes=("best_possible_mse",),
        cases=(
            Case("build_noise", "probe_noise", "the notebook's noise, sigma = 0.2",
                 args={"noise_sigma": 0.2}),
            Case("build_noise", "probe_noise", "noise of another size", hidden=True,
                 args={"noise_sigma": 0.35}),
        ),
        expects=(
            Expect("is_sigma", "whether best_possible_mse is the noise's standard deviation "
                               "sigma itself", rule="equal",
                   hint="the MSE averages squared errors, so its floor is in squared units: "
                        "the noise's variance, sigma squared"),
            Expect("best_possible_mse", "best_possible_mse", rtol=1e-9,
                   hint="even the true function x**2 misses every noisy target; its expected "
                        "squared error is the noise's variance, computed from noise_sigma"),
        ),
        hint="Write it in terms of noise_sigma.",
    ),
    Item(
        id="early_stopping.curve",
        points=2,
        reads=("x_train", "y_train", "x_test", "y_test", "random_state", "n_steps"),
        writes=("train_errors", "test_errors"),
        cases=(
            Case("build_curve", "probe_curve", "the notebook's data with n_steps=150",
                 args={**NOTEBOOK, "n_steps": 150}),
            Case("build_curve", "probe_curve", "another data set, random_state and n_steps",
                 hidden=True, args={"seed": 11, "random_state": 5, "n_steps": 97}),
            Case("build_curve", "probe_curve", "15 training points and a short curve",
                 hidden=True, args={"seed": 12, "random_state": 0, "n_steps": 23,
                                    "n_train": 15}),
        ),
        expects=(
            Expect("initialisations", "how many networks the loop started from fresh random "
                                      "weights (it should keep training one)", rule="equal",
                   hint="create one regressor before the loop and call its partial_fit once "
                        "per step: fit (or a new regressor) starts again from scratch"),
            Expect("n_train_errors", "the length of train_errors (one entry per step)",
                   rule="equal", hint="append once per step, for n_steps steps"),
            Expect("n_test_errors", "the length of test_errors (one entry per step)",
                   rule="equal", hint="append once per step, for n_steps steps"),
            Expect("train_errors", "train_errors", rtol=RTOL,
                   hint="after each partial_fit step: the MSE on the training set (fit with "
                        "warm_start=True is not the same: it restarts Adam at every call)"),
            Expect("test_errors", "test_errors", rtol=RTOL,
                   hint="after each partial_fit step: the MSE on the test set"),
        ),
        hint="One regressor (the recipe, random_state=random_state); in the loop: "
             "partial_fit, then the two MSEs.",
    ),
    Item(
        id="early_stopping.best_iter",
        points=1,
        reads=("test_errors",),
        writes=("best_n_iter",),
        cases=(
            Case("build_real_curve", "probe_best_iter", "a test-error curve of 200 steps",
                 args={"seed": 11, "random_state": 5, "n_steps": 200}),
            Case("build_shaped_curve", "probe_best_iter",
                 "a curve that is lowest at its very first step", hidden=True,
                 args={"seed": 21, "n": 40, "best": "first"}),
            Case("build_shaped_curve", "probe_best_iter", "a curve that is lowest at its "
                 "last step", hidden=True,
                 args={"seed": 22, "n": 61, "best": "last"}),
            Case("build_shaped_curve", "probe_best_iter", "a noisy curve with its minimum "
                 "inside", hidden=True,
                 args={"seed": 23, "n": 250, "best": "inside"}),
            Case("build_tied_curve", "probe_best_iter", "a curve whose lowest error is "
                 "reached at three separate steps (a tie)", hidden=True,
                 args={"seed": 24, "n": 80, "ties": [17, 42, 66]}),
        ),
        expects=(
            Expect("zero_based", "whether best_n_iter is the 0-based position of the lowest "
                                 "test error instead of a count of steps", rule="equal",
                   hint="step 1 is the first partial_fit call, whose error is test_errors[0]: "
                        "add 1 to the position"),
            Expect("later_tie", "whether best_n_iter is a later step of a tie for the lowest "
                                "test error instead of the first", rule="equal",
                   hint="if several steps tie for the lowest error, take the first: "
                        "np.argmin returns the first position of the minimum (a loop must "
                        "replace the best only on a strictly lower error, < not <=)"),
            Expect("best_n_iter", "best_n_iter", rule="equal",
                   hint="the number of steps after which the test error was lowest"),
        ),
        hint="np.argmin gives the position of the smallest value.",
    ),
    Item(
        id="early_stopping.refit",
        points=1,
        reads=("x_train", "y_train", "x_test", "y_test", "random_state", "best_n_iter"),
        writes=("reg_early", "early_test_mse"),
        cases=(
            Case("build_refit", "probe_refit", "the notebook's data with best_n_iter=300",
                 args={**NOTEBOOK, "best_n_iter": 300}),
            Case("build_refit", "probe_refit", "another data set, random_state and "
                 "best_n_iter", hidden=True,
                 args={"seed": 12, "random_state": 0, "best_n_iter": 80}),
        ),
        expects=(
            *_settings("reg_early's max_iter (it should be best_n_iter)"),
            Expect("n_iter", "the number of iterations reg_early trained for", rule="equal",
                   hint="fit the new regressor on the training set"),
            Expect("test_mse", "reg_early's test error", rtol=RTOL,
                   hint="a fresh regressor with the recipe and max_iter=best_n_iter, fitted "
                        "on (x_train, y_train)"),
            Expect("early_test_mse", "early_test_mse", rtol=RTOL,
                   hint="the MSE of reg_early's predictions on x_test against y_test"),
        ),
        hint="A new MLPRegressor with max_iter=best_n_iter, fitted from scratch.",
    ),
    Item(
        id="early_stopping.warning",
        points=1,
        writes=("warning_category",),
        cases=(Case("build_nothing", "probe_warning", "your answer"),),
        expects=(
            Expect("is_warning", "whether warning_category is a warning class", rule="equal"),
            Expect("category", "the warning class", rule="equal",
                   hint="read the warning printed under the refit cell: its class name comes "
                        "before the message; import that class from sklearn"),
        ),
        hint="Assign the class itself (imported), not an instance or a string.",
    ),
    Item(id="early_stopping.comment_overfit", points=0, manual=True),
    Item(id="early_stopping.comment_early", points=0, manual=True),
)

EXERCISE = Exercise(
    stem="02_early_stopping",
    title="Early stopping with a training loop (scikit-learn)",
    items=ITEMS,
    cases_module="nngrade.reference.early_stopping.cases",
    solution=SOLUTION,
    preamble=(
        "import warnings\n"
        "import numpy as np\n"
        "import matplotlib.pyplot as plt\n"
        "from sklearn.neural_network import MLPRegressor\n"
        "from sklearn.metrics import mean_squared_error\n"
    ),
    preload=("numpy", "matplotlib.pyplot", "sklearn.neural_network", "sklearn.metrics"),
)
