"""Keras guide "Writing quantization-compatible layers": a custom layer's own
`quantize()` / `_int8_build()` / `_int8_call()` hooks, and `del self._kernel`."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina import dtype_policies, layers, ops, quantizers

X = np.array([[0.5, -1.0, 2.0, 0.25], [1.5, 0.75, -0.5, 1.0]], dtype="float32")
KERNEL = np.array([0.01, -0.05, 0.03, 0.002], dtype="float32")


def _scale_layer_class(keras_module):
    """The guide's SimpleScale, written against `keras_module` (lamina or Keras)."""
    k_ops, k_quantizers, k_policies = (
        keras_module.ops,
        keras_module.quantizers,
        keras_module.dtype_policies,
    )

    class SimpleScale(keras_module.layers.Layer):
        def build(self, input_shape):
            if self.quantization_mode == "int8":
                self._int8_build((input_shape[-1],))
            else:
                self._kernel = self.add_weight(
                    name="kernel", shape=(input_shape[-1],), initializer="ones"
                )

        def call(self, inputs, training=None):
            return k_ops.multiply(inputs, self._kernel)

        def quantize(self, mode, **kwargs):
            kernel, scale = k_quantizers.abs_max_quantize(
                self._kernel, axis=0, dtype="int8", to_numpy=True
            )
            shape = self._kernel.shape
            del self._kernel
            self._int8_build(shape)
            self._kernel.assign(kernel)
            self.scale.assign(k_ops.squeeze(scale, axis=0))
            self._is_quantized = True
            self.dtype_policy = k_policies.get(f"{mode}_from_{self.dtype_policy.name}")

        def _int8_build(self, kernel_shape):
            self._kernel = self.add_weight(
                name="kernel",
                shape=kernel_shape,
                initializer="zeros",
                dtype="int8",
                trainable=False,
            )
            self.scale = self.add_weight(
                name="scale", initializer="ones", trainable=False
            )

        def _int8_call(self, inputs, training=None):
            return k_ops.divide(k_ops.multiply(inputs, self._kernel), self.scale)

    return SimpleScale


SimpleScale = _scale_layer_class(lamina)


def _quantized_layer():
    layer = SimpleScale()
    layer(X)
    layer._kernel.assign(KERNEL)
    layer.quantize("int8")
    return layer


def test_deleting_a_weight_attribute_stops_tracking_it():
    layer = layers.Dense(3)
    layer.build((None, 2))
    bias = layer.bias
    del layer.bias
    assert all(w is not bias for w in layer.weights)
    assert [w.path for w in layer.trainable_weights] == ["dense/kernel"]
    assert "bias" not in layer.state_dict()


def test_deleting_a_tied_weight_leaves_it_with_its_owner():
    owner = layers.Dense(2)
    owner.build((None, 2))
    other = layers.Dense(2)
    other.build((None, 2))
    other.tied = owner.kernel
    del other.tied
    assert owner.weights[0] is owner.kernel and len(owner.weights) == 2


def test_a_quantized_custom_layer_runs_its_int8_call():
    layer = _quantized_layer()
    kernel, scale = quantizers.abs_max_quantize(KERNEL, axis=0, to_numpy=True)
    kernel, scale = ops.convert_to_numpy(kernel), ops.convert_to_numpy(scale)
    expected = X * kernel.astype("float32") / scale
    np.testing.assert_allclose(ops.convert_to_numpy(layer(X)), expected, rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(X)), X * KERNEL, atol=5e-4)
    assert [(w.path, w.dtype) for w in layer.weights] == [
        ("simple_scale/kernel", torch.int8),
        ("simple_scale/scale", torch.float32),
    ]
    assert layer.trainable_weights == []


def test_the_int8_call_runs_inside_models_and_after_loading(tmp_path):
    lamina.saving.register_keras_serializable("guides7")(SimpleScale)
    model = lamina.Sequential([layers.Input((4,)), SimpleScale()])
    model.layers[0]._kernel.assign(KERNEL)
    model.quantize("int8")
    quantized = ops.convert_to_numpy(_quantized_layer()(X))
    np.testing.assert_allclose(ops.convert_to_numpy(model(X)), quantized)
    np.testing.assert_allclose(model.predict(X, verbose=0), quantized)
    path = os.path.join(tmp_path, "scale.keras")
    model.save(path)
    loaded = lamina.saving.load_model(path)
    assert loaded.layers[0].quantization_mode == "int8"
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(X)), quantized)


def test_layers_without_quantized_hooks_keep_their_own_call():
    class Plain(layers.Layer):
        def call(self, inputs):
            return inputs

    assert Plain.call is Plain.__dict__["call"]
    assert not hasattr(layers.Dense.call, "_dispatches_quantized")
    assert SimpleScale.call._dispatches_quantized


def test_quantized_call_of_a_lamina_dense_is_its_quantized_forward():
    layer = layers.Dense(3)
    layer.build((None, 4))
    layer.quantize("int8")
    np.testing.assert_array_equal(
        # A direct call: the input goes on the layer's device first.
        ops.convert_to_numpy(
            layer.quantized_call(torch.tensor(X, device=lamina.backend.get_device()))
        ),
        ops.convert_to_numpy(layer(X)),
    )


def test_quantized_call_errors_name_the_missing_piece():
    class NoHook(layers.Layer):
        def call(self, inputs):
            return inputs

    with pytest.raises(NotImplementedError, match="Invalid quantization mode"):
        NoHook().quantized_call(X)
    layer = NoHook(dtype=dtype_policies.get("int8_from_float32"))
    with pytest.raises(NotImplementedError, match="no `_int8_call` method"):
        layer.quantized_call(X)


def test_the_guide_layer_matches_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    keras_layer = _scale_layer_class(keras)()
    keras_layer(X)
    keras_layer._kernel.assign(KERNEL)
    keras_layer.quantize("int8")
    np.testing.assert_allclose(
        ops.convert_to_numpy(_quantized_layer()(X)),
        keras.ops.convert_to_numpy(keras_layer(X)),
        rtol=1e-6,
    )
    assert len(keras_layer.weights) == len(_quantized_layer().weights) == 2
