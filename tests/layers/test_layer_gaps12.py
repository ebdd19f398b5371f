"""Session 12: Keras base-Layer hooks lamina lacked."""

import warnings

import numpy as np
import pytest

import lamina
from lamina import layers


def test_base_layer_quantize_hooks_raise_as_in_keras():
    layer = layers.Dropout(0.5)
    layer.build((None, 3))
    with pytest.raises(
        NotImplementedError, match="Layer Dropout does not have a `quantize` method"
    ):
        layer.quantize("int8")
    with pytest.raises(NotImplementedError, match="`quantized_build` method"):
        layer.quantized_build((None, 3), "int8")


def test_model_quantize_skips_layers_without_quantize_quietly():
    # Keras warns once per such layer (InputLayer, Dropout): lamina says nothing
    # about layers that have nothing to quantize.
    model = lamina.Sequential(
        [lamina.Input((4,)), layers.Dense(3), layers.Dropout(0.1), layers.Dense(2)]
    )
    x = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    before = model.predict(x, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.quantize("int8")
    assert [layer.quantization_mode for layer in model.layers] == [
        "int8",
        None,
        "int8",
    ]
    np.testing.assert_allclose(model.predict(x, verbose=0), before, atol=0.05)


def test_custom_layer_super_quantize_reaches_the_base():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w

        def quantize(self, mode=None, type_check=True, config=None):
            if mode != "int8":
                return super().quantize(mode, type_check, config)
            raise AssertionError("not reached in this test")

    layer = Scale()
    layer.build((None, 2))
    with pytest.raises(NotImplementedError, match="Layer Scale does not have"):
        layer.quantize("int4")
