"""Optimizer details from Keras 3.15.1's own optimizer tests (session 12)."""

import numpy as np
import pytest
import torch

from lamina import optimizers


@pytest.mark.parametrize("cls", [optimizers.SGD, optimizers.Adam, optimizers.Nadam])
def test_clip_gradients_gives_keras_values(cls):
    # Keras: clipnorm=1 on [100, 100] -> [sqrt(2)/2] * 2; clipvalue=1 -> [1, 1].
    (by_norm,) = cls(clipnorm=1)._clip_gradients([np.array([100.0, 100.0])])
    np.testing.assert_allclose(by_norm.numpy(), [2**0.5 / 2] * 2, rtol=1e-6)
    (by_value,) = cls(clipvalue=1)._clip_gradients([torch.tensor([100.0, -100.0])])
    np.testing.assert_allclose(by_value.numpy(), [1.0, -1.0])


def test_global_clip_norm_and_missing_gradients():
    grad = np.array([50.0, 100.0], "float32")
    clipped = optimizers.SGD(global_clipnorm=1)._clip_gradients([grad, None])
    np.testing.assert_allclose(clipped[0].numpy(), grad / np.linalg.norm(grad))
    assert clipped[1] is None
    unclipped = optimizers.SGD()._clip_gradients([grad])
    np.testing.assert_array_equal(unclipped[0].numpy(), grad)


def _variable(path):
    variable = torch.nn.Parameter(torch.ones(2))
    variable.path = path
    return variable


def test_optimizer_map_refuses_bad_values_with_value_error():
    # Keras raises ValueError (not TypeError) from OptimizerMap.__setitem__.
    table = optimizers.OptimizerMap(optimizers.SGD())
    with pytest.raises(ValueError, match="must be an Optimizer instance"):
        table["a"] = 3
    with pytest.raises(ValueError, match="key must be a string"):
        table[1] = optimizers.SGD()
    with pytest.raises(ValueError, match="cannot be a LossScaleOptimizer"):
        table["b"] = optimizers.LossScaleOptimizer(optimizers.SGD())
    with pytest.raises(ValueError, match="already exists in the OptimizerMap"):
        table["c"] = optimizers.SGD()
        table["c"] = optimizers.SGD()
    # The constructor's argument checks stay TypeErrors, as in Keras.
    with pytest.raises(TypeError):
        optimizers.OptimizerMap(3)


def test_multi_optimizer_build_refuses_what_the_map_returns():
    nested = optimizers.MultiOptimizer(optimizers.OptimizerMap(optimizers.SGD()))
    cases = [
        (lambda v: 3, "Optimizer for variable w is not an Optimizer instance"),
        (
            lambda v: optimizers.LossScaleOptimizer(optimizers.SGD()),
            "LossScaleOptimizer cannot be used inside a MultiOptimizer",
        ),
        (lambda v: nested, "MultiOptimizer cannot be used inside a MultiOptimizer"),
    ]
    for choose, message in cases:
        with pytest.raises(ValueError, match=message):
            optimizers.MultiOptimizer(choose).build([_variable("w")])


def test_multi_optimizer_messages_carry_keras_phrases():
    multi = optimizers.MultiOptimizer(optimizers.OptimizerMap(optimizers.SGD()))
    with pytest.raises(AttributeError, match="Learning rate cannot be accessed"):
        _ = multi.learning_rate
    with pytest.raises(AttributeError, match="Learning rate cannot be set"):
        multi.learning_rate = 0.1
    with pytest.raises(ValueError, match="When passing `grads` without `variables`"):
        multi.apply([torch.ones(2)])
    multi.build([_variable("w")])
    with pytest.raises(ValueError, match="Gradients must match trainable variables"):
        multi.apply([torch.ones(2)] * 2, [_variable("w"), _variable("v")])
