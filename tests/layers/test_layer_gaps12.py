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


def test_state_set_before_super_init_is_tracked():
    # Keras tracks variables and lists of layers set before Layer.__init__;
    # torch alone refuses them ("cannot assign ... before Module.__init__()").
    class WithVariable(layers.Layer):
        def __init__(self):
            self.flag = True
            self.w = lamina.Variable(np.ones((2,), "float32"))
            super().__init__()

        def call(self, x):
            return x * self.w

    class WithBlocks(lamina.Model):
        def __init__(self):
            self.blocks = [layers.Dense(2), layers.Dense(3)]
            self.head = layers.Dense(1)
            super().__init__()

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            return self.head(x)

    layer = WithVariable()
    assert layer.flag is True
    assert [w.shape for w in layer.weights] == [(2,)]
    np.testing.assert_array_equal(
        lamina.ops.convert_to_numpy(layer(np.full((1, 2), 3.0, "float32"))), [[3, 3]]
    )
    model = WithBlocks()
    model(np.ones((1, 4), "float32"))
    assert [layer.units for layer in model.layers] == [2, 3, 1]
    assert len(model.weights) == 6
    assert len(list(model.parameters())) == 6  # torch sees them too


def test_add_weight_in_call_of_a_built_layer_is_refused():
    # Keras locks a built layer's state: a weight created in call() would pile
    # up, one more at each call.
    class Bad(layers.Layer):
        def call(self, x):
            self.w = self.add_weight(shape=(), initializer="zeros")
            return x

    with pytest.raises(ValueError, match="cannot add new elements of state"):
        Bad()(np.ones((3, 2), "float32"))

    class Good(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w

    layer = Good()
    layer(np.ones((3, 2), "float32"))
    layer(np.ones((3, 2), "float32"))
    assert len(layer.weights) == 1


def test_a_list_holding_itself_is_tracked_once(tmp_path):
    # Keras saves and loads such a model (its cyclic-container saving test).
    class Cyclic(lamina.Model):
        def __init__(self):
            super().__init__()
            self.blocks = []
            self.blocks.append(self.blocks)
            self.blocks.append(layers.Dense(3))
            self.out = layers.Dense(2)

        def call(self, x):
            return self.out(self.blocks[1](x))

    x = np.ones((1, 4), "float32")
    model = Cyclic()
    model(x)
    assert len(model.layers) == 2 and len(model.weights) == 4
    model.save_weights(tmp_path / "c.weights.h5")
    other = Cyclic()
    other(x)
    other.load_weights(tmp_path / "c.weights.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
