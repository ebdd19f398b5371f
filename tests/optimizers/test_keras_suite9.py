"""Optimizers behaving as Keras 3's own unit tests expect (session 9)."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina import optimizers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _overwritten(values):
    variable = lamina.Variable(values)
    variable.overwrite_with_gradient = True
    return variable


def test_loss_scale_optimizer_leaves_overwrite_gradients_unscaled():
    # Their "gradient" is the new value: the loss scale never multiplied it.
    optimizer = optimizers.LossScaleOptimizer(optimizers.SGD(learning_rate=0.5))
    scale, plain = _overwritten([1.0, 2.0, 3.0, 4.0]), lamina.Variable([1.0, 2.0])
    new_value = torch.tensor([1.0, 6.0, 7.0, 2.0], device=scale.device)
    optimizer.apply(
        [new_value, torch.full((2,), 2.0**15, device=plain.device)], [scale, plain]
    )
    np.testing.assert_array_equal(scale.numpy(), [1.0, 6.0, 7.0, 2.0])
    np.testing.assert_array_equal(plain.numpy(), [0.5, 1.5])  # 2**15 / 2**15
    np.testing.assert_array_equal(
        lamina.ops.convert_to_numpy(new_value), [1.0, 6.0, 7.0, 2.0]
    )


def test_loss_scale_optimizer_skips_a_step_with_a_non_finite_new_value():
    optimizer = optimizers.LossScaleOptimizer(
        optimizers.SGD(learning_rate=0.5), initial_scale=4.0
    )
    scale, plain = _overwritten([1.0, 2.0]), lamina.Variable([1.0, 2.0])
    device = scale.device
    optimizer.apply(
        [
            torch.tensor([float("inf"), 1.0], device=device),
            torch.tensor([4.0, 4.0], device=device),
        ],
        [scale, plain],
    )
    np.testing.assert_array_equal(scale.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(plain.numpy(), [1.0, 2.0])
    assert float(optimizer.dynamic_scale.numpy()) == 2.0


def test_loss_scale_optimizer_step_leaves_overwrite_gradients_unscaled():
    optimizer = optimizers.LossScaleOptimizer(
        optimizers.SGD(learning_rate=1.0), initial_scale=8.0
    )
    scale, plain = _overwritten([0.0]), lamina.Variable([1.0])
    optimizer.build([scale, plain])
    optimizer.scale_loss(torch.zeros(()))
    device = scale.device
    scale.grad = torch.tensor([3.0], device=device)
    plain.grad = torch.tensor([8.0], device=device)
    optimizer.step()
    np.testing.assert_array_equal(scale.numpy(), [3.0])
    np.testing.assert_array_equal(plain.numpy(), [0.0])


@pytest.mark.parametrize("rms_rate", [None, 0.2])
@pytest.mark.parametrize("shape", [(4, 4), (4, 2), (3, 7)])
def test_muon_lr_adjust_matches_keras(rms_rate, shape):
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    ours = optimizers.Muon(rms_rate=rms_rate).lr_adjust(torch.tensor(x))
    theirs = keras.optimizers.Muon(rms_rate=rms_rate).lr_adjust(
        keras.ops.convert_to_tensor(x)
    )
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs), rtol=1e-6
    )


@pytest.mark.parametrize(
    "name, kwargs, value, grad",
    [
        ("Muon", {}, [1.0, 2.0, 3.0, 4.0], [1.0, 6.0, 7.0, 2.0]),
        (
            "Muon",
            {"weight_decay": 0},
            [[1.0, 2.0], [3.0, 4.0]],
            [[1.0, 6.0], [7.0, 2.0]],
        ),
        ("Adam", {"weight_decay": 0.1}, [1.0, 2.0], [0.5, -1.0]),
        ("SGD", {"momentum": 0.9}, [1.0, 2.0], [0.5, -1.0]),
    ],
)
def test_a_direct_update_step_matches_keras(name, kwargs, value, grad):
    # Keras lets a built optimizer run its rule on one variable: no step is
    # counted and no weight decay applied.
    keras = pytest.importorskip("keras")
    ours = getattr(optimizers, name)(**kwargs)
    variable = lamina.Variable(value)
    ours.build([variable])
    ours.update_step(torch.tensor(grad, device=variable.device), variable, 0.5)
    theirs = getattr(keras.optimizers, name)(**kwargs)
    k_variable = keras.Variable(value)
    theirs.build([k_variable])
    theirs.update_step(keras.ops.convert_to_tensor(grad), k_variable, 0.5)
    np.testing.assert_allclose(
        variable.numpy(), keras.ops.convert_to_numpy(k_variable), rtol=1e-5, atol=1e-6
    )
    assert int(ours.iterations.numpy()) == 0


def test_update_step_on_a_variable_the_optimizer_was_not_built_with():
    optimizer = optimizers.Adam()
    optimizer.build([lamina.Variable([1.0])])
    with pytest.raises(ValueError, match="update_step"):
        optimizer.update_step(torch.tensor([1.0]), lamina.Variable([2.0]), 0.1)


def test_set_weights_before_build_uses_keras_phrase():
    built = optimizers.Adam()
    variable = lamina.Variable([1.0, 2.0])
    built.apply([torch.tensor([1.0, 1.0], device=variable.device)], [variable])
    with pytest.raises(ValueError, match="You are calling set_weights"):
        optimizers.Adam().set_weights(built.variables)
