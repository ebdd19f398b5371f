"""A layer frozen between two fits (no new compile) stops training at once, as
in Keras 3 on torch: its last gradient is not applied again."""

import numpy as np

import lamina
from lamina import layers


def test_a_layer_frozen_between_fits_stays_put():
    rng = np.random.default_rng(0)
    x = rng.random((4, 3), dtype=np.float32)
    y = rng.random((4, 2), dtype=np.float32)
    model = lamina.Sequential(
        [lamina.Input((3,)), layers.Dense(4), layers.Dense(4), layers.Dense(2)]
    )
    model.compile(lamina.optimizers.Adam(0.01), "mse")
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    frozen = model.layers[1]
    before = frozen.kernel.numpy().copy()
    other = model.layers[0].kernel.numpy().copy()
    frozen.trainable = False
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    np.testing.assert_array_equal(frozen.kernel.numpy(), before)
    assert not np.array_equal(model.layers[0].kernel.numpy(), other)
    assert len(model.trainable_weights) == 4

    model.layers[0].kernel.requires_grad_(False)  # a torch user's way
    other = model.layers[0].kernel.numpy().copy()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), other)
