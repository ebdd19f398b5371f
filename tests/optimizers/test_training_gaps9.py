"""Session 9 training gaps: optimizer and metric state as Keras variables,
NumPy reductions on a Variable, and `overwrite_with_gradient`."""

import copy
import os
import pickle

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina  # noqa: E402
from lamina import optimizers  # noqa: E402


def _variable(values, name):
    return lamina.Variable(np.array(values, "float32"), name=name)


# ---------------------------------------------------- state variables' surface


def test_metric_variables_are_named_variables_sharing_the_state():
    metric = lamina.metrics.Mean(name="mean")
    metric.update_state([1.0, 2.0, 6.0])
    total, count = metric.variables
    assert isinstance(total, lamina.Variable) and not total.trainable
    assert (total.name, total.path, count.name, count.path) == (
        "total",
        "mean/total",
        "count",
        "mean/count",
    )
    assert float(total.value) == 9.0 and total.numpy().tolist() == 9.0
    total.assign(30.0)  # writes the metric's own state
    assert float(metric.result()) == 10.0
    auc = lamina.metrics.AUC(num_thresholds=5)
    assert [v.name for v in auc.variables] == [
        "true_positives",
        "false_positives",
        "true_negatives",
        "false_negatives",
    ]
    # Copies keep the surface, with their own state.
    clone = copy.deepcopy(metric)
    clone.variables[0].assign(0.0)
    assert float(clone.result()) == 0.0 and float(metric.result()) == 10.0
    restored = pickle.loads(pickle.dumps(metric))
    assert restored.variables[1].name == "count"
    assert float(restored.result()) == 10.0


def test_optimizer_variables_are_variables_and_assign_writes_through():
    weight = _variable([1.0, 2.0], "w")
    optimizer = optimizers.Adam(0.1)
    for _ in range(2):
        optimizer.apply([torch.ones(2, device=weight.device)], [weight])
    variables = optimizer.variables
    assert all(isinstance(v, lamina.Variable) for v in variables)
    assert [v.name for v in variables] == [
        "iteration",
        "learning_rate",
        "w_momentum",
        "w_velocity",
    ]
    assert variables[2].path == "adam/w_momentum"
    assert int(variables[0].value) == 2
    optimizer.iterations.assign(10)
    assert int(optimizer.iterations) == 10
    variables[1].assign(0.5)
    assert optimizer.learning_rate == 0.5 and int(optimizer.iterations) == 10
    variables[2].assign(np.array([3.0, 4.0], "float32"))
    np.testing.assert_array_equal(
        lamina.ops.convert_to_numpy(optimizer._variables[2]), [3.0, 4.0]
    )
    copied = copy.deepcopy(optimizer)
    copied.iterations.assign(3)
    assert int(copied.iterations) == 3 and int(optimizer.iterations) == 10


def test_optimizer_state_matches_keras_surface():
    keras = pytest.importorskip("keras")

    def surface(module):
        weight = module.Variable(np.ones(2, "float32"), name="w")
        optimizer = module.optimizers.SGD(0.1, momentum=0.9, name="sgd")
        optimizer.apply([module.ops.ones(2)], [weight])
        return [
            (v.name, v.path, module.ops.convert_to_numpy(v.value).tolist())
            for v in optimizer.variables
        ]

    ours = surface(lamina)
    theirs = surface(keras)
    assert [row[:2] for row in ours] == [row[:2] for row in theirs]
    np.testing.assert_allclose(
        np.concatenate([np.ravel(row[2]) for row in ours]),
        np.concatenate([np.ravel(row[2]) for row in theirs]),
        rtol=1e-6,
    )


def test_loss_scale_optimizer_scalars_are_variables():
    optimizer = optimizers.LossScaleOptimizer(optimizers.SGD(0.1), initial_scale=4.0)
    optimizer.build([_variable([1.0], "w")])
    assert [v.name for v in optimizer.variables] == [
        "iteration",
        "learning_rate",
        "step_counter",
        "dynamic_scale",
        "iteration",
        "learning_rate",
    ]
    optimizer.dynamic_scale.assign(16.0)
    assert optimizer.scale_loss(torch.tensor(1.0)).item() == 16.0


# ------------------------------------------------------ NumPy on a Variable


@pytest.mark.parametrize(
    "fn", [np.min, np.max, np.sum, np.mean, np.std, np.argmax, np.median]
)
def test_numpy_reductions_on_a_variable(fn):
    values = np.array([[3.0, 1.0], [2.0, 5.0]], "float32")
    variable = lamina.Variable(values)
    np.testing.assert_allclose(fn(variable), fn(values), rtol=1e-6)
    np.testing.assert_allclose(fn(variable, axis=0), fn(values, axis=0), rtol=1e-6)


def test_numpy_functions_with_several_variables():
    a, b = (
        lamina.Variable(np.ones(2, "float32")),
        lamina.Variable(np.zeros(2, "float32")),
    )
    np.testing.assert_array_equal(np.concatenate([a, b]), [1, 1, 0, 0])
    assert np.allclose(a, np.ones(2))


# ------------------------------------------------------ overwrite_with_gradient

GRADS = [[5.0, -1.0], [2.0, 7.0], [0.5, 0.5], [9.0, 1.0], [1.0, 1.0], [3.0, 3.0]]


def _overwrite_run(module, name, **kwargs):
    a = module.Variable(np.array([1.0, 2.0], "float32"), name="a")
    b = module.Variable(np.array([3.0, 4.0], "float32"), name="b")
    b.overwrite_with_gradient = True
    optimizer = getattr(module.optimizers, name)(0.1, **kwargs)
    history = []
    for grad in GRADS:
        optimizer.apply(
            [
                module.ops.convert_to_tensor(np.ones(2, "float32")),
                module.ops.convert_to_tensor(np.array(grad, "float32")),
            ],
            [a, b],
        )
        history.append(np.concatenate([np.asarray(a), np.asarray(b)]))
    return np.stack(history), int(np.asarray(optimizer.iterations))


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("SGD", {}),
        ("Adam", {"clipnorm": 0.5}),
        ("SGD", {"gradient_accumulation_steps": 2}),
        ("Adam", {"gradient_accumulation_steps": 3}),
    ],
)
def test_overwrite_with_gradient_matches_keras(name, kwargs):
    keras = pytest.importorskip("keras")
    ours, our_steps = _overwrite_run(lamina, name, **kwargs)
    theirs, their_steps = _overwrite_run(keras, name, **kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert our_steps == their_steps


def test_overwrite_with_gradient_semantics_and_fast_path():
    ours, steps = _overwrite_run(lamina, "SGD")
    np.testing.assert_allclose(ours[:, 2:], GRADS)  # b takes each gradient
    np.testing.assert_allclose(ours[:, 0], 1.0 - 0.1 * np.arange(1, 7), rtol=1e-6)
    assert steps == 6
    plain = optimizers.SGD(0.1)
    plain.build([_variable([1.0], "w")])
    assert plain._overwritten == frozenset() and plain._compiled_update_supported()
    flagged = _variable([1.0], "scale")
    flagged.overwrite_with_gradient = True
    other = optimizers.SGD(0.1)
    other.build([_variable([1.0], "w"), flagged])
    assert other._overwritten == {1} and not other._compiled_update_supported()
    # Only overwritten variables given: the step still counts.
    other.apply([torch.tensor([7.0])], [flagged])
    assert flagged.tolist() == [7.0] and int(other.iterations) == 1
