"""torch's `.double()` / `.to(dtype)` on a model that has trained: the
optimizer's slots follow their weights, so fit goes on without compile()."""

import numpy as np
import pytest
import torch

import lamina as keras
from lamina import layers


def _trained(optimizer):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4), layers.Dense(1)])
    model.compile(optimizer, "mse", metrics=["mae"])
    x = np.random.rand(32, 3).astype("float32")
    y = np.random.rand(32, 1).astype("float32")
    model.fit(x, y, verbose=0, shuffle=False)
    return model, x, y


@pytest.mark.parametrize(
    "make",
    [
        lambda: "adam",
        lambda: keras.optimizers.SGD(momentum=0.9),
        lambda: "rmsprop",
        lambda: keras.optimizers.AdamW(use_ema=True),
    ],
)
def test_double_after_fit_keeps_training_with_the_same_slots(make):
    model, x, y = _trained(make())
    slots = list(model.optimizer.variables)
    model.double()
    assert model.layers[0].kernel.dtype == torch.float64
    history = model.fit(x, y, verbose=0, epochs=2, shuffle=False)
    assert all(np.isfinite(history.history["loss"]))
    after = model.optimizer.variables
    assert all(a is b for a, b in zip(after, slots))  # the same tensors, moved
    float_slots = [v for v in after if v.is_floating_point() and v.ndim > 0]
    assert float_slots and all(v.dtype == torch.float64 for v in float_slots)
    assert int(model.optimizer.iterations) == 3
    assert model.predict(x, verbose=0).dtype == np.float64


def test_double_after_fit_steps_like_a_float64_twin():
    model, x, y = _trained("adam")
    twin, _, _ = _trained("adam")
    model.double()
    twin.double()
    # The twin's optimizer starts over from float64 slots holding the same
    # values: both must take exactly the same next step.
    twin.optimizer.build(twin.trainable_weights)
    for mine, theirs in zip(model.optimizer.variables, twin.optimizer.variables):
        theirs.copy_(mine)
    model.fit(x, y, verbose=0, shuffle=False)
    twin.fit(x, y, verbose=0, shuffle=False)
    for a, b in zip(model.weights, twin.weights):
        np.testing.assert_array_equal(
            a.detach().cpu().numpy(), b.detach().cpu().numpy()
        )
