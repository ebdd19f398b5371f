"""A `compute_output_shape` with one `<arg>_shape` parameter per `call()`
argument gets each argument's shape, as in Keras 3."""

import numpy as np
import pytest

import lamina
from lamina import layers, ops


class _Gather(layers.Layer):
    def call(self, x, idx):
        return ops.take_along_axis(x, ops.expand_dims(idx, -1), axis=1)

    def compute_output_shape(self, x_shape, idx_shape):
        return tuple(idx_shape) + (x_shape[-1],)


class _Misnamed(layers.Layer):
    def call(self, x, idx):
        return x

    def compute_output_shape(self, x_shape, other_shape):
        return x_shape


def test_each_shape_parameter_gets_its_call_arguments_shape():
    x = lamina.Input((5, 8))
    idx = lamina.Input((2,), dtype="int32")
    out = _Gather()(x, idx)
    assert out.shape == (None, 2, 8)
    model = lamina.Model([x, idx], out)
    got = model([np.ones((3, 5, 8), "float32"), np.zeros((3, 2), "int32")])
    assert tuple(got.shape) == (3, 2, 8)


def test_a_shape_parameter_naming_no_call_argument_is_refused():
    x = lamina.Input((5, 8))
    idx = lamina.Input((2,), dtype="int32")
    with pytest.raises(ValueError, match="compute_output_shape.*`other_shape`"):
        _Misnamed()(x, idx)
