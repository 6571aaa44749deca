"""The check declaration of exercise 06: items, points, inputs, hidden cases, tolerances.

Expected values are never written here: every comparison is against what the reference cell
(``solution.py``) produces from the same inputs, through the same sandbox.
"""

from nngrade.grader.spec import Case, Exercise, Expect, Item, Trained
from nngrade.reference.big_networks.cases import CURVE_FACTOR, LINE_SLACK
from nngrade.reference.big_networks.solution import SOLUTION

# The held-out error the notebook's own training must reach, as a factor of the reference
# notebook's. Measured: the recipe (500 full-batch Adam epochs, lr 1e-3) from torch seeds
# 0-11 ends at 3.889-4.075 (the reference, seed 0: 3.987, at most 1.022x it), the same with
# 1 and 2 threads; 2,000 epochs end at 4.5-5.3 (1.13-1.34x), an untrained network near 100.
NET_FACTOR = 1.10

_SMALL = {"seed": 3, "hidden": [20, 20], "n": 30, "n_test": 50}
_DEEP = {"seed": 4, "hidden": [16, 16, 16], "n": 45, "n_test": 60}

ITEMS = (
    Item(
        id="big_networks.count_parameters",
        points=1,
        writes=("count_parameters",),
        cases=(
            Case("build_nothing", "probe_count", "the notebook's network and a 1-10-1 network",
                 args={"kinds": ["notebook", "small"]}),
            Case("build_nothing", "probe_count",
                 "other widths and depths, layers without bias, batch normalisation and a "
                 "bare nn.Parameter", hidden=True,
                 args={"kinds": ["wide_shallow", "deep_no_bias", "batchnorm",
                                 "bare_parameter"]}),
            Case("build_nothing", "probe_count",
                 "a model with a frozen layer, an entirely frozen model and a model without "
                 "parameters", hidden=True,
                 args={"kinds": ["frozen_layer", "all_frozen", "no_parameters"]}),
        ),
        expects=(
            Expect("frozen_counted", "whether count_parameters counts frozen parameters "
                                     "(requires_grad=False)", rule="equal",
                   hint="count only the parameters with p.requires_grad, as the notebook "
                        "states: frozen ones are not trained"),
            Expect("counts", "count_parameters(model) on each model", rule="equal",
                   hint="add up p.numel() over model.parameters(): every weight and bias "
                        "tensor, whatever the layer (buffers such as batch-norm running "
                        "statistics are not parameters)"),
        ),
        hint="model.parameters() yields every parameter tensor once; p.numel() is its size.",
    ),
    Item(
        id="big_networks.model",
        points=1,
        writes=("make_network", "model"),
        cases=(
            Case("build_nothing", "probe_model", "your network"),
            Case("build_nothing", "probe_model", "your network, built after another seed",
                 hidden=True, seed=1),
        ),
        expects=(
            Expect("output_shape", "the shape of model(x) for x of shape (7, 1)", rule="equal"),
            Expect("n_parameters", "the number of trainable parameters of model", rule="equal",
                   hint="1 input, five hidden layers of 100 units, 1 output: 40,701 "
                        "parameters, biases included"),
            Expect("layer_shapes", "the shapes of model's weight matrices, in order",
                   rule="equal",
                   hint="nn.Linear(1, 100), four nn.Linear(100, 100), nn.Linear(100, 1)"),
            Expect("relu", "whether the hidden units are ReLU units", rule="equal",
                   hint="put nn.ReLU() (or torch.relu) after each hidden layer, and none "
                        "after the output layer"),
            Expect("nonlinear", "whether the network is non-linear", rule="equal",
                   hint="without an activation between the layers, the stacked layers are one "
                        "straight line"),
            Expect("linear_output", "whether the output unit is linear", rule="equal",
                   hint="no activation after the last nn.Linear(100, 1): the network must be "
                        "able to predict any value, negative ones included"),
            Expect("seeded", "whether make_network(seed) gives the same weights for the same "
                             "seed and other weights for another seed", rule="equal",
                   hint="call torch.manual_seed(seed) first thing in make_network"),
        ),
        hint="A list of layers in a loop, then nn.Sequential(*layers).",
    ),
    Item(
        id="big_networks.fit_network",
        points=2,
        reads=("model", "X_train", "Y_train", "X_test", "Y_test", "n_epochs", "lr"),
        writes=("train_network", "network_mse", "losses", "net_test_mse"),
        cases=(
            Case("build_fit", "probe_fit",
                 "a 1-20-20-1 network trained for 8 epochs at lr 0.005",
                 args={**_SMALL, "n_epochs": 8, "lr": 5e-3,
                       "extra": [{"seed": 7, "hidden": [12], "n": 20, "n_test": 30,
                                  "n_epochs": 3, "lr": 1e-2}]}),
            Case("build_fit", "probe_fit",
                 "a deeper network trained for 11 epochs at lr 0.02, then train_network for "
                 "0 and 1 epochs and on the notebook's architecture", hidden=True,
                 args={**_DEEP, "n_epochs": 11, "lr": 2e-2,
                       "extra": [{"seed": 8, "hidden": [9, 9], "n": 25, "n_test": 20,
                                  "n_epochs": 0, "lr": 1e-2},
                                 {"seed": 9, "hidden": [30], "n": 1, "n_test": 1,
                                  "n_epochs": 1, "lr": 3e-2},
                                 {"seed": 10, "hidden": [100] * 5, "n": 100, "n_test": 200,
                                  "n_epochs": 4, "lr": 1e-3}]}),
        ),
        # Measured: the loss written as nn.MSELoss, F.mse_loss, ((p - y)**2).mean() or
        # sum / n, zero_grad before the forward pass or after the step, 1 or 2 threads: the
        # same weights bit for bit; one epoch more moves them by 1e-3 to 2e-2.
        expects=(
            Expect("weights", "the model's weights after train_network", rtol=1e-4, atol=1e-6,
                   hint="one full-batch step per epoch: zero_grad, the MSE of model(X) "
                        "against Y, backward, step, with torch.optim.Adam(model.parameters(), "
                        "lr=lr) made once, before the loop"),
            Expect("losses", "losses, the training loss of each epoch", rtol=1e-5, atol=1e-7,
                   hint="append loss.item() once per epoch: the mean squared error computed "
                        "before that epoch's step"),
            Expect("net_test_mse", "net_test_mse, the held-out mean squared error",
                   rtol=1e-5, hint="network_mse(model, X_test, Y_test): the mean of the "
                                   "squared errors on the held-out set"),
            Expect("loss_counts", "the number of losses train_network returns", rule="equal",
                   hint="return the list of losses, one per epoch (none for 0 epochs)"),
            Expect("other_weights", "the weights train_network leaves in a model it is given",
                   rtol=1e-4, atol=1e-6,
                   hint="train the model passed in, for exactly n_epochs at the learning "
                        "rate lr passed in"),
            Expect("other_errors", "network_mse(model, X, Y) on other networks",
                   rtol=1e-5),
        ),
        trained=Trained(module="model", cell="big_networks.model", build="build_trained",
                        probe="probe_trained"),
        state=(
            Expect("net_test_mse", "the held-out error of the network your notebook trained",
                   rule="at_most", factor=NET_FACTOR,
                   hint="train model once, for the notebook's n_epochs = 500 at lr = 1e-3, "
                        "on X_train and Y_train"),
        ),
        hint="Adam adapts the step size of every weight; the loop is otherwise the usual one.",
        timeout=60,
    ),
    Item(
        id="big_networks.fit_line",
        points=1,
        reads=("x_train", "y_train", "x_test", "y_test"),
        writes=("fit_line", "intercept", "slope", "line_test_mse"),
        cases=(
            Case("build_line", "probe_line", "the notebook's data, then 30 other points",
                 args={"seed": 1, "n": 100, "n_test": 1000,
                       "extra": [{"kind": "notebook", "seed": 5, "n": 30}]}),
            Case("build_line", "probe_line",
                 "17 points; then two points, points exactly on a line, a constant y, x far "
                 "from zero and three points on a decreasing line", hidden=True,
                 args={"seed": 11, "n": 17, "n_test": 40,
                       "extra": [{"kind": "two_points", "seed": 0, "n": 2},
                                 {"kind": "exact_line", "seed": 12, "n": 9},
                                 {"kind": "constant", "seed": 13, "n": 12},
                                 {"kind": "far_from_zero", "seed": 14, "n": 25},
                                 {"kind": "decreasing", "seed": 15, "n": 3}]}),
        ),
        expects=(
            Expect("coefficients", "(intercept, slope) fitted to x_train, y_train",
                   rtol=1e-6, atol=1e-9,
                   hint="least squares, returned as (intercept, slope) in that order "
                        "(np.polyfit(x, y, 1) returns the slope first)"),
            Expect("line_test_mse", "line_test_mse, the line's held-out mean squared error",
                   rtol=1e-6, hint="the mean of (intercept + slope * x_test - y_test) ** 2"),
            Expect("other_coefficients", "fit_line(x, y) on other data", rtol=1e-6,
                   atol=1e-9, hint="the least-squares line of the x and y passed in, as "
                                   "(intercept, slope)"),
        ),
        hint="np.linalg.lstsq on the columns [1, x], or the textbook formulas.",
    ),
    Item(
        id="big_networks.learning_curve",
        points=2,
        reads=("sizes", "n_epochs", "lr", "make_data", "make_network", "train_network",
               "network_mse", "fit_line", "to_tensor", "x_test", "y_test", "X_test", "Y_test"),
        writes=("net_curve", "line_curve"),
        cases=(
            Case("build_curve", "probe_curve",
                 "sizes 10, 30, 100, 300 with 100 epochs",
                 args={"sizes": [10, 30, 100, 300], "n_epochs": 100, "lr": 1e-3,
                       "test_seed": 2, "n_test": 1000}),
            Case("build_curve", "probe_curve",
                 "two other sizes, another learning rate and another held-out set",
                 hidden=True,
                 args={"sizes": [20, 150], "n_epochs": 100, "lr": 2e-3, "test_seed": 8,
                       "n_test": 400}),
            Case("build_curve", "probe_curve", "a single size", hidden=True,
                 args={"sizes": [120], "n_epochs": 60, "lr": 2e-3, "test_seed": 9,
                       "n_test": 300}),
        ),
        expects=(
            Expect("lengths", "the lengths of net_curve and line_curve", rule="equal",
                   hint="one held-out error per training-set size"),
            Expect("floats", "whether net_curve and line_curve are 1-D arrays of floats",
                   rule="equal", hint="return np.array(errors) of Python floats"),
            Expect("finite", "whether every error is finite", rule="equal"),
            Expect("trained_sizes", "the number of points of each network trained",
                   rule="equal",
                   hint="for each n in sizes, in order, train one network on n points "
                        "with train_network (the grader counts its calls)"),
            Expect("line_sizes", "the number of points of each line fitted", rule="equal",
                   hint="for each n in sizes, in order, fit one line on the same n points "
                        "with fit_line (the grader counts its calls)"),
            Expect("fresh", "whether each size gets a fresh network from make_network",
                   rule="equal",
                   hint="call make_network(0) inside the loop: a network already trained on "
                        "another size would carry what it learnt"),
            Expect("settings", "whether each network is trained for n_epochs at lr",
                   rule="equal", hint="pass n_epochs and lr on to train_network"),
            Expect("same_data", "whether the network and the line of each size see the same "
                                "training points", rule="equal",
                   hint="draw x, y = make_data(n, seed) once per size and give both to the "
                        "network and to the line"),
            Expect("net_errors_match", "whether net_curve holds the held-out errors of the "
                                       "networks trained", rule="equal",
                   hint="network_mse(net, X_test, Y_test) after training: the held-out set, "
                        "not the training points"),
            Expect("line_errors_match", "whether line_curve holds the held-out errors of the "
                                        "lines fitted", rule="equal",
                   hint="the mean of (b0 + b1 * x_test - y_test) ** 2 with the line's own "
                        "(intercept, slope)"),
            Expect("line_decreasing", f"whether the line's error at the largest size is at most "
                                      f"{LINE_SLACK:g} times its error at the smallest size",
                   rule="equal", hint="more points should give a better line: fit each line "
                                      "on the points of its own size"),
            Expect("net_near_line", f"whether the network's held-out error is at most "
                                    f"{CURVE_FACTOR:g} times the line's at 100 points or more",
                   rule="equal"),
        ),
        hint="One loop over sizes: data, a fresh network, its training, the line, two errors.",
        timeout=90,
    ),
    Item(id="big_networks.conclusion", points=0, manual=True),
)

EXERCISE = Exercise(
    stem="06_big_networks",
    title="Do big networks overfit? (PyTorch)",
    items=ITEMS,
    cases_module="nngrade.reference.big_networks.cases",
    solution=SOLUTION,
    preamble=(
        "import numpy as np\n"
        "import matplotlib.pyplot as plt\n"
        "import torch\n"
        "from torch import nn\n"
    ),
    # torch._dynamo: a process's first torch optimizer imports it (0.95 s); the item runs
    # train, so the fork server loads it once instead of every sandbox
    preload=("numpy", "matplotlib.pyplot", "torch", "torch._dynamo"),
)
