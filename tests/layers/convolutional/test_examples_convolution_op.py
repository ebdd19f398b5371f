"""Regression from Keras's "Customizing the convolution operation" recipe:
`convolution_op(inputs, kernel)` on the convolution layers."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers, ops


def _standardized(kernel):
    mean = ops.mean(kernel, axis=(0, 1, 2), keepdims=True)
    var = ops.var(kernel, axis=(0, 1, 2), keepdims=True)
    return (kernel - mean) / ops.sqrt(var + 1e-10)


class _OverrideConv(layers.Conv2D):
    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, _standardized(kernel))


class _CallConv(layers.Conv2D):
    def call(self, inputs):
        result = self.convolution_op(inputs, _standardized(self.kernel))
        if self.use_bias:
            result = result + self.bias
        return result


def _numpy_conv2d_valid(x, kernel):
    """Plain NumPy cross-correlation, channels_last, stride 1, 'valid'."""
    kh, kw, _, filters = kernel.shape
    n, h, w, _ = x.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, filters), "float64")
    for i in range(h - kh + 1):
        for j in range(w - kw + 1):
            patch = x[:, i : i + kh, j : j + kw, :]
            out[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return out


def test_default_convolution_op_is_the_convolution_without_bias_or_activation():
    layer = layers.Conv2D(3, 2, activation="relu", bias_initializer="ones")
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 4)).astype("float32")
    layer(x)
    kernel = layer.kernel.detach().cpu().numpy()
    out = layer.convolution_op(lamina.ops.convert_to_tensor(x), layer.kernel)
    np.testing.assert_allclose(
        out.detach().cpu().numpy(), _numpy_conv2d_valid(x, kernel), rtol=1e-4, atol=1e-5
    )
    # The layer itself still adds the bias and applies relu.
    full = layer(x).detach().cpu().numpy()
    np.testing.assert_allclose(
        full, np.maximum(_numpy_conv2d_valid(x, kernel) + 1.0, 0), rtol=1e-4, atol=1e-5
    )


def test_overridden_convolution_op_is_used_by_call_then_bias_and_activation():
    layer = _OverrideConv(3, 2, activation="relu", bias_initializer="ones")
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 4)).astype("float32")
    out = layer(x).detach().cpu().numpy()
    kernel = layer.kernel.detach().cpu().numpy().astype("float64")
    mean = kernel.mean(axis=(0, 1, 2), keepdims=True)
    var = kernel.var(axis=(0, 1, 2), keepdims=True)
    expected = _numpy_conv2d_valid(x, (kernel - mean) / np.sqrt(var + 1e-10))
    np.testing.assert_allclose(out, np.maximum(expected + 1.0, 0), rtol=1e-4, atol=1e-4)


def test_custom_convolutions_train_in_a_model():
    model = lamina.Sequential(
        [
            lamina.Input((8, 8, 1)),
            _CallConv(4, 3, activation="relu"),
            _OverrideConv(4, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    assert model.output_shape == (None, 2)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(2).random((8, 8, 8, 1)).astype("float32")
    history = model.fit(x, np.arange(8) % 2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_convolution_op_override_matches_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")

    class KerasOverride(keras.layers.Conv2D):
        def convolution_op(self, inputs, kernel):
            mean = keras.ops.mean(kernel, axis=(0, 1, 2), keepdims=True)
            var = keras.ops.var(kernel, axis=(0, 1, 2), keepdims=True)
            return super().convolution_op(
                inputs, (kernel - mean) / keras.ops.sqrt(var + 1e-10)
            )

    x = np.random.default_rng(3).normal(size=(2, 6, 6, 3)).astype("float32")
    ours = _OverrideConv(4, 3, strides=2, padding="same", activation="tanh")
    theirs = KerasOverride(4, 3, strides=2, padding="same", activation="tanh")
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(
        ours(x).detach().cpu().numpy(),
        keras.ops.convert_to_numpy(theirs(x)),
        rtol=1e-5,
        atol=1e-5,
    )
