"""`build()` signatures Keras accepts besides `build(self, input_shape)`, as the
keras-io GRN/VSN example uses them (sweep 4B)."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers, ops


class _NoArgBuild(layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(2, kernel_initializer="ones")

    def build(self):
        self.built = True

    def call(self, x):
        return self.dense(x)


class _TwoShapeBuild(layers.Layer):
    def build(self, x_shape, y_shape):
        self.seen = (tuple(x_shape), tuple(y_shape))
        self.w = self.add_weight(shape=(x_shape[-1], y_shape[-1]), initializer="ones")

    def call(self, x, y):
        return ops.matmul(x, self.w) + y


class _BadNameBuild(layers.Layer):
    def build(self, x_shape, weights):
        pass

    def call(self, x, y):
        return x


def test_build_without_arguments_runs_eagerly_and_symbolically():
    out = _NoArgBuild()(np.ones((2, 3), "float32"))
    np.testing.assert_allclose(ops.convert_to_numpy(out), np.full((2, 2), 3.0))
    assert tuple(_NoArgBuild()(lamina.Input((3,))).shape) == (None, 2)


def test_build_with_one_shape_per_call_argument():
    layer = _TwoShapeBuild()
    x = np.ones((2, 3), "float32")
    y = np.full((2, 4), 0.5, "float32")
    out = layer(x, y)
    assert layer.seen == ((2, 3), (2, 4))
    np.testing.assert_allclose(ops.convert_to_numpy(out), np.full((2, 4), 3.5))
    symbolic = _TwoShapeBuild()
    assert tuple(symbolic(lamina.Input((3,)), lamina.Input((4,))).shape) == (None, 4)
    assert symbolic.seen == ((None, 3), (None, 4))
    assert symbolic.get_build_config() == {
        "shapes_dict": {"x_shape": (None, 3), "y_shape": (None, 4)}
    }


def test_two_shape_build_is_rebuilt_from_its_build_config():
    layer = _TwoShapeBuild()
    layer(lamina.Input((3,)), lamina.Input((5,)))
    fresh = _TwoShapeBuild()
    fresh.build_from_config(layer.get_build_config())
    assert fresh.built and tuple(fresh.w.shape) == (3, 5)


def test_build_argument_not_naming_a_call_argument_is_rejected():
    with pytest.raises(ValueError, match="`weights`.*does not end in `_shape`"):
        _BadNameBuild()(np.ones((2, 3), "float32"), np.ones((2, 3), "float32"))


def test_numpy_second_argument_is_converted_like_the_first():
    class _Add(layers.Layer):
        def call(self, x, y):
            return x + y

    out = _Add()(np.ones((2,), "float32"), np.ones((2,), "float64"))
    assert out.dtype == lamina.backend.to_torch_dtype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(out), [2.0, 2.0])


def test_matches_keras_for_two_shape_build():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras parity runs on its torch backend")

    class KerasTwo(keras.layers.Layer):
        def build(self, x_shape, y_shape):
            self.w = self.add_weight(
                shape=(x_shape[-1], y_shape[-1]), initializer="ones"
            )

        def call(self, x, y):
            return keras.ops.matmul(x, self.w) + y

    x = np.arange(6, dtype="float32").reshape(2, 3)
    y = np.ones((2, 4), "float32")
    expected = keras.ops.convert_to_numpy(KerasTwo()(x, y))
    got = ops.convert_to_numpy(_TwoShapeBuild()(x, y))
    np.testing.assert_allclose(got, expected)
