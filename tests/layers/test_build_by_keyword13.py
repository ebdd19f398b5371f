"""Keras's rule for a `build` with several `<arg>_shape` parameters, some of
them optional: each gets the shape of the `call()` argument it names, by
keyword, and the build config records what was given (expected values are
what Keras 3.15 on torch gives for the same layers)."""

import numpy as np
import pytest

import lamina as keras
from lamina import layers, ops


class Three(layers.Layer):
    def build(self, x_shape, y_shape, z_shape=None):
        self.seen = (x_shape, y_shape, z_shape)
        self.w = self.add_weight(shape=(x_shape[-1], y_shape[-1]))

    def call(self, x, y, z=None):
        out = ops.matmul(x, self.w) + y
        return out if z is None else out + z


class Optional(layers.Layer):
    def build(self, x_shape, y_shape=None):
        self.seen = (x_shape, y_shape)
        self.w = self.add_weight(shape=(x_shape[-1], 2))

    def call(self, x, y=None):
        return ops.matmul(x, self.w)

    def compute_output_shape(self, x_shape, y_shape=None):
        return x_shape[:-1] + (2,)


X = np.ones((2, 3), "float32")
Y = np.ones((2, 4), "float32")


def test_two_required_and_one_optional_shape_build_by_keyword():
    layer = Three()
    layer(X, Y)
    assert layer.seen == ((2, 3), (2, 4), None)
    assert layer.get_build_config() == {
        "shapes_dict": {"x_shape": (2, 3), "y_shape": (2, 4)}
    }
    layer = Three()
    layer(X, Y, Y)
    assert layer.seen == ((2, 3), (2, 4), (2, 4))
    assert layer.get_build_config()["shapes_dict"]["z_shape"] == (2, 4)


def test_one_given_shape_is_saved_as_input_shape_and_builds_again():
    layer = Optional()
    layer(X)
    assert layer.seen == ((2, 3), None)
    assert layer.get_build_config() == {"input_shape": (2, 3)}
    again = Optional()
    again.build_from_config(layer.get_build_config())
    assert again.built and again.seen == ((2, 3), None)
    both = Optional()
    both(X, Y)
    assert both.get_build_config() == {
        "shapes_dict": {"x_shape": (2, 3), "y_shape": (2, 4)}
    }


@pytest.mark.parametrize("by_keyword", [True, False])
def test_a_direct_build_call_is_recorded_by_name(by_keyword):
    layer = Three()
    if by_keyword:
        layer.build(x_shape=(2, 3), y_shape=(2, 4))
    else:
        layer.build((2, 3), (2, 4))
    assert layer.get_build_config() == {
        "shapes_dict": {"x_shape": (2, 3), "y_shape": (2, 4)}
    }


def test_compute_output_shape_by_keyword():
    assert Optional().compute_output_spec(keras.KerasTensor((2, 3))).shape == (2, 2)
    assert Optional()(keras.Input((3,))).shape == (None, 2)


def test_attention_subclass_with_keras_build_signature(tmp_path):
    class MHA(layers.MultiHeadAttention):
        def build(self, query_shape, value_shape, key_shape=None):
            self.seen = (query_shape, value_shape, key_shape)
            super().build(query_shape, value_shape, key_shape)

    q = np.ones((2, 5, 8), "float32")
    layer = MHA(2, 4)
    layer(q, q)
    assert layer.seen == ((2, 5, 8), (2, 5, 8), None)
    assert layer.get_build_config() == {
        "shapes_dict": {"query_shape": (2, 5, 8), "value_shape": (2, 5, 8)}
    }
    again = MHA(2, 4)
    again.build_from_config(layer.get_build_config())
    assert again.seen == ((2, 5, 8), (2, 5, 8), None)


def test_keyword_built_layer_saves_and_loads(tmp_path):
    keras.saving.register_keras_serializable("test13")(Three)
    x_in, y_in = keras.Input((3,)), keras.Input((4,))
    model = keras.Model([x_in, y_in], Three()(x_in, y_in))
    path = str(tmp_path / "three.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict([X, Y], verbose=0), model.predict([X, Y], verbose=0)
    )
    assert loaded.layers[-1].seen == ((None, 3), (None, 4), None)
