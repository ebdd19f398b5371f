"""Regressions from keras-io's addition_rnn: one-hot bool sequences into RNNs."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _one_hot_bool(batch=3, steps=4, features=5):
    rng = np.random.default_rng(0)
    x = np.zeros((batch, steps, features), dtype=bool)
    x[
        np.arange(batch)[:, None],
        np.arange(steps),
        rng.integers(0, features, (batch, steps)),
    ] = True
    return x


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.LSTM(3),
        lambda: layers.LSTM(3, use_cudnn=False),
        lambda: layers.GRU(3, return_sequences=True),
        lambda: layers.SimpleRNN(3),
        lambda: layers.Bidirectional(layers.LSTM(3)),
    ],
)
@pytest.mark.parametrize("dtype", ["bool", "int32"])
def test_rnns_take_bool_and_int_sequences_as_floats(make, dtype):
    x = _one_hot_bool().astype(dtype)
    layer = make()
    out = layer(x)
    assert out.dtype == lamina.backend.to_torch_dtype("float32")
    expected = layer(x.astype("float32"))
    np.testing.assert_allclose(
        out.detach().cpu().numpy(), expected.detach().cpu().numpy()
    )


def test_lstm_on_bool_inputs_matches_keras():
    keras = pytest.importorskip("keras")
    x = _one_hot_bool()
    ours = layers.LSTM(4)
    theirs = keras.layers.LSTM(4)
    ours.build(x.shape)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(
        ours(x).detach().cpu().numpy(),
        keras.ops.convert_to_numpy(theirs(x)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_sequential_lstm_trains_on_bool_one_hot_data():
    x = _one_hot_bool(batch=8)
    y = _one_hot_bool(batch=8, steps=2)
    model = lamina.Sequential(
        [
            lamina.Input((4, 5)),
            layers.LSTM(8),
            layers.RepeatVector(2),
            layers.LSTM(8, return_sequences=True),
            layers.Dense(5, activation="softmax"),
        ]
    )
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert 0.0 <= history.history["accuracy"][0] <= 1.0
