"""Train and test steps (forward, loss, gradients, every optimizer's update,
metrics) create nothing on the CPU that meets the device's tensors: with
lamina's device set to `meta` (a stand-in for CUDA that every torch build has)
every optimizer and loss, with their usual metrics, runs two train steps and a
test step. The optimizer's step counter and learning rate are CPU scalars by
design (reading them never waits for the device)."""

import pytest
import torch

import lamina
from lamina import layers, metrics, optimizers

OPTIMIZERS = {
    "sgd": lambda: "sgd",
    "adam": lambda: "adam",
    "adamw": lambda: "adamw",
    "rmsprop": lambda: "rmsprop",
    "adagrad": lambda: "adagrad",
    "adadelta": lambda: "adadelta",
    "adamax": lambda: "adamax",
    "nadam": lambda: "nadam",
    "lion": lambda: "lion",
    "sgd-nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adam-amsgrad-clipnorm": lambda: optimizers.Adam(amsgrad=True, clipnorm=1.0),
    "adamw-global-clipnorm-ema": lambda: optimizers.AdamW(
        global_clipnorm=1.0, use_ema=True
    ),
    "sgd-accumulation": lambda: optimizers.SGD(gradient_accumulation_steps=2),
}
LOSSES = {
    "sparse-ce": ("sparse_categorical_crossentropy", lambda: ["accuracy"], "sparse"),
    "ce": (
        "categorical_crossentropy",
        lambda: ["accuracy", metrics.AUC(), metrics.TopKCategoricalAccuracy(k=2)],
        "onehot",
    ),
    "mse": ("mse", lambda: ["mae", metrics.RootMeanSquaredError()], "regression"),
    "bce": (
        "binary_crossentropy",
        lambda: ["accuracy", metrics.Precision(), metrics.Recall(), metrics.AUC()],
        "binary",
    ),
    "huber": ("huber", lambda: ["mae"], "regression"),
    "kld": ("kl_divergence", lambda: [], "onehot"),
    "categorical-hinge": ("categorical_hinge", lambda: [], "onehot"),
}
_UNITS = {"sparse": 4, "onehot": 4, "regression": 1, "binary": 1}
_ACTIVATION = {"sparse": "softmax", "onehot": "softmax", "binary": "sigmoid"}


def _targets(kind):
    if kind == "sparse":
        return torch.zeros(6, dtype=torch.long, device="meta")
    return torch.rand(6, _UNITS[kind], device="meta")


@pytest.fixture
def on_meta():
    lamina.backend.set_device("meta")
    yield
    lamina.backend.set_device(None)


@pytest.mark.parametrize("loss_case", LOSSES.values(), ids=LOSSES.keys())
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_steps_run_on_the_device_of_the_model(make_optimizer, loss_case, on_meta):
    loss, make_metrics, kind = loss_case
    model = lamina.Sequential(
        [
            lamina.Input((5,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.2),
            layers.BatchNormalization(),
            layers.Dense(_UNITS[kind], activation=_ACTIVATION.get(kind)),
        ]
    )
    model.compile(make_optimizer(), loss, metrics=make_metrics())
    x, y = torch.rand(6, 5, device="meta"), _targets(kind)
    model._prepare_train_step((x, y))
    for _ in range(2):
        model.train_step((x, y))
    model.test_step((x, y))
    assert {w.device.type for w in model.weights} == {"meta"}
    # Slot variables (plain SGD has none) are on the device; 0-d scalars on the CPU.
    state = [v for v in model.optimizer.variables if v.ndim > 0]
    assert {v.device.type for v in state} <= {"meta"}
    for metric in model.metrics:
        assert {v.device.type for v in metric.variables} <= {"meta"}
