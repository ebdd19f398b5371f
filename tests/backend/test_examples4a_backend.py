"""Regressions found running keras-io examples (helper-52): shape inference."""

import numpy as np
import pytest

import lamina as keras
from lamina import layers


class _MaskedConv(layers.Layer):
    """pixelcnn.py: the kernel is multiplied by a NumPy mask inside `call`."""

    def __init__(self, **kwargs):
        super().__init__()
        self.conv = layers.Conv2D(**kwargs)

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.mask = np.zeros(tuple(self.conv.kernel.shape))
        self.mask[: self.mask.shape[0] // 2] = 1.0

    def call(self, inputs):
        self.conv.kernel.assign(self.conv.kernel * self.mask)
        return self.conv(inputs)


# torch tensors meeting NumPy arrays warn through NumPy 2's __array_wrap__ (torch's).
@pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")
def test_numpy_arithmetic_in_call_builds_symbolically():
    inputs = keras.Input((6, 6, 1))
    outputs = _MaskedConv(filters=2, kernel_size=3, padding="same")(inputs)
    assert outputs.shape == (None, 6, 6, 2)
    assert outputs.dtype == "float32"
    model = keras.Model(inputs, outputs)
    out = model.predict(np.ones((3, 6, 6, 1), "float32"), verbose=0)
    assert out.shape == (3, 6, 6, 2)
    # As in Keras, the symbolic build assigns nothing; a real call does.
    kernel = keras.ops.convert_to_numpy(model.layers[1].conv.kernel)
    np.testing.assert_array_equal(kernel[1:], 0.0)  # the mask was applied
