"""Training-stack details Keras 3.15.1 shows (session 12)."""

import numpy as np

import lamina
from lamina import layers


def _two_outputs(as_dict):
    x = lamina.Input((3,), name="x")
    a = layers.Dense(1, name="a")(x)
    b = layers.Dense(1, name="b")(x)
    return lamina.Model(x, {"a": a, "b": b} if as_dict else [a, b])


def _fit(model, **compile_kwargs):
    model.compile("sgd", **compile_kwargs)
    y = np.ones((4, 1), "float32")
    model.fit(np.ones((4, 3), "float32"), {"a": y, "b": y}, verbose=0)
    return [v.path for v in model.metrics_variables]


def test_per_output_loss_trackers_live_under_compile_loss():
    # Keras 3.15.1 (same model, torch backend) lists exactly these paths.
    paths = _fit(
        _two_outputs(True),
        loss={"a": "mse", "b": "mae"},
        metrics={"a": ["mae"], "b": ["mse"]},
    )
    assert paths == [
        "loss/total",
        "loss/count",
        "mean_absolute_error/total",
        "mean_absolute_error/count",
        "mean_squared_error/total",
        "mean_squared_error/count",
        "compile_loss/a_loss/total",
        "compile_loss/a_loss/count",
        "compile_loss/b_loss/total",
        "compile_loss/b_loss/count",
    ]


def test_list_outputs_and_the_logs_keep_their_names():
    model = _two_outputs(False)
    paths = _fit(model, loss=["mse", "mae"])
    assert paths[2:] == [
        "compile_loss/a_loss/total",
        "compile_loss/a_loss/count",
        "compile_loss/b_loss/total",
        "compile_loss/b_loss/count",
    ]
    assert [m.name for m in model.metrics] == ["loss", "a_loss", "b_loss"]
    logs = model.evaluate(
        np.ones((4, 3), "float32"),
        [np.ones((4, 1), "float32")] * 2,
        verbose=0,
        return_dict=True,
    )
    assert sorted(logs) == ["a_loss", "b_loss", "loss"]


def test_one_output_has_no_compile_loss_tracker():
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 1), "float32"), verbose=0)
    assert [v.path for v in model.metrics_variables] == [
        "loss/total",
        "loss/count",
        "mean_absolute_error/total",
        "mean_absolute_error/count",
    ]


def test_class_weight_to_sample_weights_takes_keras_dict_form():
    import torch

    from lamina.trainers.data_adapters.data_adapter_utils import (
        class_weight_to_sample_weights,
    )

    table = {0: 1.0, 1: 2.0, 2: 3.0}
    cases = [  # Keras's own cases (data_adapter_utils_test), Keras's results
        (np.array([0, 1, 0, 2]), table, [1.0, 2.0, 1.0, 3.0]),
        (np.eye(3)[[0, 1, 0, 2]], table, [1.0, 2.0, 1.0, 3.0]),
        (np.array([0, 3, 0, 2]), table, [1.0, 1.0, 1.0, 3.0]),
        (np.array([[0], [1], [0], [2]]), table, [1.0, 2.0, 1.0, 3.0]),
        (np.array([0, 1, 0, 2]), {}, [1.0, 1.0, 1.0, 1.0]),
        (torch.tensor([0, 1, 0, 2]), table, [1.0, 2.0, 1.0, 3.0]),
    ]
    for y, class_weight, expected in cases:
        weights = class_weight_to_sample_weights(y, class_weight)
        np.testing.assert_allclose(weights.cpu().numpy(), expected)
