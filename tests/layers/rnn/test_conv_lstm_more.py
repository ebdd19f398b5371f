"""ConvLSTM1D/2D/3D against Keras 3 (tiny maps, few timesteps)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import layers  # noqa: E402
from tests.layers._parity_more import (  # noqa: E402
    assert_config_matches_keras,
    assert_from_config_round_trip,
    assert_model_file_round_trip,
    assert_weights_match_keras,
    to_numpy,
)

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
STEP = {1: (6, 2), 2: (5, 4, 2), 3: (3, 4, 3, 2)}
CASES = [
    (2, {"padding": "same", "return_sequences": True}),
    (2, {"strides": 2, "return_state": True, "go_backwards": True}),
    (2, {"data_format": "channels_first", "return_sequences": True}),
    (2, {"use_bias": False, "activation": "relu", "unit_forget_bias": False}),
    (1, {"dilation_rate": 2, "return_sequences": True}),
    (1, {"padding": "same", "return_state": True}),
    (3, {"padding": "same", "return_state": True}),
]


def _inputs(rank, data_format="channels_last", steps=3):
    step = STEP[rank]
    if data_format == "channels_first":
        step = step[-1:] + step[:-1]
    return RNG.normal(size=(2, steps) + step).astype("float32")


def _pair(rank, kwargs, x):
    name = f"ConvLSTM{rank}D"
    theirs = getattr(keras.layers, name)(3, 3, **kwargs)
    theirs(x)
    ours = getattr(layers, name)(3, 3, **kwargs)
    ours(x)
    assert_weights_match_keras(ours, theirs)
    return ours, theirs


def _assert_outputs_close(ours, theirs):
    ours = ours if isinstance(ours, (list, tuple)) else [ours]
    theirs = theirs if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rank, kwargs", CASES)
def test_conv_lstm_matches_keras(rank, kwargs):
    x = _inputs(rank, kwargs.get("data_format", "channels_last"))
    ours, theirs = _pair(rank, kwargs, x)
    _assert_outputs_close(ours(x), theirs(x))
    assert_config_matches_keras(ours, theirs)
    symbolic = ours(lamina.Input(x.shape[1:]))
    expected = theirs.compute_output_shape((None,) + x.shape[1:])
    if isinstance(symbolic, (list, tuple)):
        assert [tuple(s.shape) for s in symbolic] == [tuple(e) for e in expected]
    else:
        assert tuple(symbolic.shape) == tuple(expected)


def test_conv_lstm_weights_have_keras_shapes_and_forget_bias():
    layer = layers.ConvLSTM2D(4, (3, 2))
    layer(_inputs(2))
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.shape == (3, 2, 2, 16)
    assert recurrent.shape == (3, 2, 4, 16)
    np.testing.assert_array_equal(bias, [0] * 4 + [1] * 4 + [0] * 8)


def test_conv_lstm_masked_steps_and_initial_state_match_keras():
    x = _inputs(2, steps=4)
    ours, theirs = _pair(2, {"return_sequences": True, "return_state": True}, x)
    mask = np.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool)
    state = RNG.normal(size=(2, 3, 2, 3)).astype("float32")
    carry = RNG.normal(size=(2, 3, 2, 3)).astype("float32")
    _assert_outputs_close(
        ours(x, mask=mask, initial_state=[state, carry]),
        theirs(x, mask=mask, initial_state=[state, carry]),
    )


def test_conv_lstm_cell_called_directly_matches_the_layer():
    x = _inputs(2, steps=1)
    layer = layers.ConvLSTM2D(3, 3, padding="same", return_state=True)
    output, h, c = layer(x)
    zeros = np.zeros(tuple(h.shape), "float32")
    cell_h, (_, cell_c) = layer.cell(x[:, 0], [zeros, zeros])
    np.testing.assert_allclose(to_numpy(cell_h), to_numpy(h), atol=1e-6)
    np.testing.assert_allclose(to_numpy(cell_c), to_numpy(c), atol=1e-6)


def test_conv_lstm_dropout_applies_only_in_training():
    x = _inputs(2)
    layer = layers.ConvLSTM2D(3, 3, dropout=0.5, recurrent_dropout=0.5, seed=1)
    inference = to_numpy(layer(x))
    np.testing.assert_array_equal(to_numpy(layer(x)), inference)
    assert not np.allclose(to_numpy(layer(x, training=True)), inference)


def test_conv_lstm_stateful_carries_states_between_calls():
    x = _inputs(2)
    layer = layers.ConvLSTM2D(3, 3, stateful=True)
    first = to_numpy(layer(x))
    second = to_numpy(layer(x))
    assert not np.allclose(first, second)
    layer.reset_state()
    np.testing.assert_allclose(to_numpy(layer(x)), first, atol=1e-6)


def test_conv_lstm_trains_in_fit():
    x = _inputs(1, steps=3)
    y = RNG.normal(size=(2, 4, 3)).astype("float32")
    model = lamina.Sequential([lamina.Input(x.shape[1:]), layers.ConvLSTM1D(3, 3)])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()[0].copy()
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(model.get_weights()[0], before)


def test_conv_lstm_config_and_file_round_trip(tmp_path):
    layer = layers.ConvLSTM2D(3, 2, strides=(1, 2), padding="same", dropout=0.25)
    clone = assert_from_config_round_trip(layer)
    assert clone.strides == (1, 2) and clone.dropout == 0.25
    x = _inputs(2)
    assert_model_file_round_trip(
        layers.ConvLSTM2D(3, 3, return_sequences=True), x.shape[1:], x, tmp_path
    )


def test_conv_lstm_weights_file_loads_in_keras(tmp_path):
    x = _inputs(2)
    inputs = lamina.Input(x.shape[1:])
    model = lamina.Model(inputs, layers.ConvLSTM2D(3, 3)(inputs))
    path = str(tmp_path / "conv_lstm.weights.h5")
    model.save_weights(path)
    k_inputs = keras.Input(x.shape[1:])
    theirs = keras.Model(k_inputs, keras.layers.ConvLSTM2D(3, 3)(k_inputs))
    theirs.load_weights(path)
    np.testing.assert_allclose(
        to_numpy(theirs(x)), to_numpy(model(x)), rtol=1e-5, atol=1e-5
    )


def test_conv_lstm_rejects_inputs_of_wrong_rank():
    with pytest.raises(ValueError, match="rank 5"):
        layers.ConvLSTM2D(3, 3)(np.ones((2, 3, 4, 2), "float32"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": 0}, "filters"),
        ({"padding": "causal"}, "padding"),
        ({"strides": 2, "dilation_rate": 2}, "dilation_rate"),
        ({"kernel_size": (3, 3, 3)}, "kernel_size"),
    ],
)
def test_conv_lstm_rejects_bad_arguments(kwargs, match):
    arguments = {"filters": 3, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        layers.ConvLSTM2D(**arguments)


def test_conv_lstm_needs_known_spatial_sizes():
    with pytest.raises(ValueError, match="known spatial"):
        layers.ConvLSTM2D(3, 3)(lamina.Input((3, None, 4, 2)))


def test_conv_lstm_outputs_keep_float64():
    x = torch.as_tensor(_inputs(2), dtype=torch.float64)
    out = layers.ConvLSTM2D(3, 3, dtype="float64")(x)
    assert out.dtype == torch.float64
