"""epsilon=0 (Keras accepts it; CUDA's batch-norm kernel does not) takes the
unfused path in training and inference, with the same results."""

import numpy as np

from lamina import ops
from lamina.layers import BatchNormalization


def test_training_with_epsilon_zero_standardizes_each_channel():
    x = np.random.default_rng(1).standard_normal((8, 3)).astype("float32")
    layer = BatchNormalization(epsilon=0.0, momentum=0.5)
    out = ops.convert_to_numpy(layer(x, training=True))
    expected = (x - x.mean(0)) / x.std(0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.moving_variance), 0.5 + 0.5 * x.var(0), rtol=1e-5
    )
