"""The check declaration of exercise 01: items, points, inputs, hidden cases, tolerances.

Expected values are never written here: every comparison is against what the reference cell
(``solution.py``) produces from the same inputs, through the same sandbox.
"""

from nngrade.grader.spec import Case, Exercise, Expect, Item, Trained
from nngrade.reference.insurance.solution import SOLUTION

_NET = {"hidden": [16], "activation": "relu"}
_OTHER_NET = {"hidden": [8, 5], "activation": "tanh"}

ITEMS = (
    Item(
        id="insurance.filter",
        points=1,
        reads=("df",),
        writes=("df",),
        cases=(
            Case("build_insurance_frame", "probe_frame", "the insurance data"),
            Case("build_synthetic_frame", "probe_frame",
                 "a shuffled frame with a 60% share of smokers and a non-default index",
                 hidden=True, args={"seed": 11, "n": 57, "smoker_share": 0.6}),
            Case("build_synthetic_frame", "probe_frame",
                 "a frame with only a few smokers", hidden=True,
                 args={"seed": 12, "n": 40, "smoker_share": 0.05}),
            Case("build_synthetic_frame", "probe_frame",
                 "a frame in which everyone smokes, so that no row is kept", hidden=True,
                 args={"seed": 13, "n": 25, "smoker_share": 1.0}),
            Case("build_synthetic_frame", "probe_frame",
                 "a frame without smokers, so that every row is kept", hidden=True,
                 args={"seed": 14, "n": 30, "smoker_share": 0.0}),
        ),
        expects=(
            Expect("n_rows", "the number of rows kept", rule="equal"),
            Expect("smokers_kept", "the number of smokers left in df", rule="equal",
                   hint="only rows whose smoker column is \"no\" should remain"),
            Expect("rows", "the rows kept", rule="equal",
                   hint="keep every column, and the rows of non-smokers unchanged"),
        ),
        hint='Select rows with a boolean mask on the "smoker" column.',
    ),
    Item(
        id="insurance.model",
        points=2,
        writes=("model",),
        cases=(
            Case("build_nothing", "probe_model", "your network", seed=0),
            Case("build_nothing", "probe_model", "your network, initialised with another seed",
                 hidden=True, seed=1),
        ),
        expects=(
            Expect("output_shape", "the shape of model(x) for x of shape (401, 1)", rule="equal"),
            Expect("single_output_shape", "the shape of model(x) for x of shape (1, 1)",
                   rule="equal"),
            Expect("hidden_layers", "the number of hidden layers", rule="at_least",
                   hint="put at least one hidden nn.Linear layer between input and output"),
            Expect("depends_on_input", "whether the output depends on the input", rule="equal"),
            Expect("nonlinear", "whether the network is non-linear", rule="equal",
                   hint="without an activation between the layers, stacked linear layers are "
                        "one straight line: add e.g. nn.ReLU() or torch.relu in forward"),
        ),
        hint="A feed-forward network: nn.Linear(1, h), an activation, nn.Linear(h, 1).",
    ),
    Item(
        id="insurance.loss_opt",
        points=1,
        reads=("model",),
        writes=("criterion", "optimizer"),
        cases=(
            Case("build_model", "probe_loss_opt", "the notebook's network",
                 args={**_NET, "seed": 1}),
            Case("build_model", "probe_loss_opt", "a network with two hidden layers",
                 hidden=True, args={**_OTHER_NET, "seed": 2}),
        ),
        expects=(
            Expect("criterion_value", "criterion(prediction, target), the mean squared error",
                   rtol=1e-6, hint="use nn.MSELoss() with its default (mean) reduction"),
            Expect("optimizer", "the optimizer", rule="equal",
                   hint="use torch.optim.SGD"),
            Expect("lr", "the learning rate", rule="equal"),
            Expect("momentum", "the momentum", rule="equal",
                   hint="plain SGD: leave momentum at its default"),
            Expect("weight_decay", "the weight decay", rule="equal"),
            Expect("nesterov", "Nesterov momentum", rule="equal"),
            Expect("covers_model", "whether the optimizer updates all of model's parameters",
                   rule="equal", hint="pass model.parameters() to the optimizer"),
        ),
        hint="criterion = nn.MSELoss(); optimizer = torch.optim.SGD(..., lr=0.001).",
    ),
    Item(
        id="insurance.train_step",
        points=2,
        reads=("model", "criterion", "optimizer", "X_train", "y_train", "n_epochs"),
        writes=("loss",),
        cases=(
            Case("build_training", "probe_weights",
                 "a 1-16-1 ReLU network trained for 6 epochs",
                 args={**_NET, "seed": 3, "n": 40, "n_epochs": 6, "lr": 0.05,
                       "momentum": 0.0}),
            Case("build_training", "probe_weights",
                 "a deeper tanh network trained for 9 epochs with momentum", hidden=True,
                 args={**_OTHER_NET, "seed": 4, "n": 33, "n_epochs": 9, "lr": 0.03,
                       "momentum": 0.5}),
        ),
        expects=(
            Expect("weights", "the model's weights after training", rtol=1e-5, atol=1e-7,
                   hint="each epoch: compute the loss, optimizer.zero_grad(), "
                        "loss.backward(), optimizer.step(), in that order"),
        ),
        hint="Each epoch: loss = criterion(model(X_train), y_train); zero_grad; backward; step.",
        timeout=60,
    ),
    Item(
        id="insurance.evaluate",
        points=1,
        reads=("model", "criterion", "X_test", "y_test"),
        writes=("y_pred", "test_loss"),
        cases=(
            Case("build_evaluation", "probe_evaluation", "a 1-16-1 network on 30 test points",
                 args={**_NET, "seed": 5, "n": 30}),
            Case("build_evaluation", "probe_evaluation", "another network on 47 test points",
                 hidden=True, args={**_OTHER_NET, "seed": 6, "n": 47}),
        ),
        expects=(
            Expect("y_pred", "y_pred, the predictions on X_test", rtol=1e-5, atol=1e-7,
                   hint="y_pred = model(X_test), of shape (n, 1)"),
            Expect("test_loss", "test_loss, the MSE of y_pred against y_test", rtol=1e-5,
                   hint="test_loss = criterion(y_pred, y_test).item()"),
        ),
        # measured outside the student's kernel: its trained weights, in the network the model
        # cell builds, on the notebook's own test set
        trained=Trained(module="model", cell="insurance.model", build="build_trained",
                        probe="probe_trained"),
        state=(
            # Measured: ReLU/tanh networks of 4-64 units in 1-3 hidden layers, 5 seeds each,
            # end at 1.00-1.42x the reference's test loss under this recipe; a network that
            # did not train ends near the mean predictor's, about 1.8x.
            Expect("test_loss", "the test loss of your trained network", rule="at_most",
                   factor=1.5,
                   hint="train for all n_epochs with the given recipe, on the non-smokers, "
                        "with ReLU or tanh units (sigmoid units learn too slowly at lr 0.001)"),
        ),
        hint="Evaluate without gradients (torch.no_grad()) and make test_loss a Python float.",
    ),
    Item(
        id="insurance.plot",
        points=1,
        reads=("X_test", "y_test", "y_pred", "scaler_X", "scaler_y"),
        cases=(
            Case("build_plot", "probe_figure", "30 test points", args={"seed": 8, "n": 30}),
        ),
        expects=(
            Expect("series", "the test set's actual and predicted charges in dollars",
                   rule="contains", rtol=1e-4, atol=1e-2,
                   hint="undo the scaling with scaler_y.inverse_transform before plotting"),
        ),
        hint="Plot actual against predicted charges (or both against age), in dollars.",
    ),
)

EXERCISE = Exercise(
    stem="01_insurance_regression",
    title="Insurance cost regression (PyTorch)",
    items=ITEMS,
    cases_module="nngrade.reference.insurance.cases",
    solution=SOLUTION,
    preamble=(
        "import numpy as np\n"
        "import pandas as pd\n"
        "import matplotlib.pyplot as plt\n"
        "import torch\n"
        "from torch import nn\n"
    ),
    data=("insurance",),
    # torch._dynamo: a process's first torch optimizer imports it (0.95 s); the item runs
    # train, so the fork server loads it once instead of every sandbox
    preload=("numpy", "pandas", "matplotlib.pyplot", "torch", "torch._dynamo",
             "sklearn.model_selection", "sklearn.preprocessing", "nngrade.datasets"),
)
