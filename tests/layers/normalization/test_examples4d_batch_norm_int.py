"""BatchNormalization on integer inputs (gnn_citations: predict on an int array)."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina
from lamina import layers


def test_int_inputs_are_normalized_as_float32():
    x = np.arange(12).reshape(4, 3)  # int64
    bn = layers.BatchNormalization()
    out = bn(x)
    assert out.dtype == lamina.ops.convert_to_tensor(np.zeros(1, "float32")).dtype
    # Untrained moving stats (mean 0, var 1): x / sqrt(1 + eps).
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(out), x / np.sqrt(1 + 1e-3), rtol=1e-6
    )
    out = bn(x, training=True)
    centred = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3)
    np.testing.assert_allclose(lamina.ops.convert_to_numpy(out), centred, rtol=1e-5)


def test_functional_predict_and_fit_on_int_array_match_keras():
    keras = pytest.importorskip("keras")
    x = np.arange(24).reshape(8, 3) % 5
    y = np.ones((8, 3), "float32")

    def run(lib):
        inputs = lib.layers.Input(shape=(3,))
        model = lib.Model(inputs, lib.layers.BatchNormalization()(inputs))
        model.compile("sgd", "mse")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        return model.predict(x, verbose=0)

    got, want = run(lamina), run(keras)
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
