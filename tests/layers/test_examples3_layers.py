"""Found running Keras's translation-with-Transformer example on lamina: a
shape computed from ops.shape feeding ops.tile inside a symbolic call, and a
layer with two masked inputs and one output."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers, ops

os.environ.setdefault("KERAS_BACKEND", "torch")


class _CausalMask(layers.Layer):
    # The example's get_causal_attention_mask: repeats from a tensor shape.
    def call(self, inputs):
        shape = ops.shape(inputs)
        batch, length = shape[0], shape[1]
        mask = ops.cast(ops.arange(length)[:, None] >= ops.arange(length), "int32")
        mask = ops.reshape(mask, (1, length, length))
        repeats = ops.concatenate(
            [ops.expand_dims(batch, -1), ops.convert_to_tensor([1, 1])], axis=0
        )
        return ops.tile(mask, repeats)


class _TwoMasksIn(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return inputs[0] + inputs[1]


def test_value_dependent_shape_in_a_symbolic_call():
    out = _CausalMask()(lamina.Input((5, 3)))
    assert out.shape == (None, 5, 5)
    assert out.dtype == "int32"
    model = lamina.Model(*_io(_CausalMask()))
    result = ops.convert_to_numpy(model(np.zeros((2, 4, 3), "float32")))
    np.testing.assert_array_equal(result[1], np.tril(np.ones((4, 4), "int32")))


def _io(layer):
    inputs = lamina.Input((None, 3))
    return inputs, layer(inputs)


def test_one_output_from_two_masked_inputs_takes_the_first_mask():
    embed_a = layers.Embedding(10, 4, mask_zero=True)
    embed_b = layers.Embedding(10, 4, mask_zero=True)
    a, b = lamina.Input((3,), dtype="int32"), lamina.Input((3,), dtype="int32")
    out = _TwoMasksIn()([embed_a(a), embed_b(b)])
    assert out._keras_mask.shape == (None, 3)
    model = lamina.Model([a, b], layers.Dense(2)(out))
    model.compile("sgd", "mse")
    x = [np.array([[1, 2, 0]]), np.array([[0, 3, 4]])]
    assert np.isfinite(model.evaluate(x, np.ones((1, 3, 2)), verbose=0))
    eager = _TwoMasksIn()([embed_a(ops.array(x[0])), embed_b(ops.array(x[1]))])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(eager._keras_mask), [[True, True, False]]
    )


def test_two_masked_inputs_mask_matches_keras():
    keras = pytest.importorskip("keras")

    class KerasTwoMasks(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            return inputs[0] + inputs[1]

    x = [np.array([[1, 2, 0]]), np.array([[0, 3, 4]])]
    k_out = KerasTwoMasks()(
        [keras.layers.Embedding(10, 4, mask_zero=True)(v) for v in x]
    )
    l_out = _TwoMasksIn()([layers.Embedding(10, 4, mask_zero=True)(v) for v in x])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(l_out._keras_mask),
        keras.ops.convert_to_numpy(k_out._keras_mask),
    )
