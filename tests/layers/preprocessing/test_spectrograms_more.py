"""STFTSpectrogram, MelSpectrogram and the STFT initializer against Keras 3."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import initializers, layers  # noqa: E402
from tests.layers._parity_more import (  # noqa: E402
    assert_config_matches_keras,
    assert_from_config_round_trip,
    assert_model_file_round_trip,
    assert_weights_match_keras,
    to_numpy,
)

keras = pytest.importorskip("keras")

# Values are read with .numpy(): keep lamina on the CPU (see conftest.py).
pytestmark = pytest.mark.usefixtures("values_on_cpu")

RNG = np.random.default_rng(0)


# --- STFT initializer -------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"side": "imag"},
        {"window": "hamming", "periodic": True, "scaling": "spectrum"},
        {"window": "blackman", "scaling": None},
        {"window": None},
        {"window": np.linspace(0.1, 1.0, 16)},
    ],
)
def test_stft_initializer_matches_keras(kwargs):
    ours = initializers.STFT(**kwargs)((16, 1, 9))
    theirs = keras.initializers.STFT(**kwargs)((16, 1, 9))
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), atol=1e-6)


def test_stft_initializer_names_and_config():
    assert initializers.get("stft").__class__ is initializers.STFT
    assert initializers.STFTInitializer is initializers.STFT
    init = initializers.STFT("imag", window="hamming", periodic=True)
    config = initializers.serialize(init)
    assert config["class_name"] == "STFT"
    assert (
        config["config"]
        == keras.initializers.serialize(
            keras.initializers.STFT("imag", window="hamming", periodic=True)
        )["config"]
    )
    clone = initializers.deserialize(config)
    np.testing.assert_array_equal(to_numpy(clone((8, 1, 5))), to_numpy(init((8, 1, 5))))


def test_stft_initializer_real_part_without_window_is_a_cosine_basis():
    kernel = to_numpy(initializers.STFT(window=None, scaling=None)((8, 1, 5)))
    t, k = np.arange(8)[:, None], np.arange(5)[None, :]
    np.testing.assert_allclose(
        kernel[:, 0, :], np.cos(2 * np.pi * t * k / 8), atol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"side": "both"}, "side"),
        ({"scaling": "power"}, "scaling"),
        ({"window": "gaussian-ish"}, "window"),
    ],
)
def test_stft_initializer_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        initializers.STFT(**kwargs)


def test_stft_initializer_rejects_a_window_of_the_wrong_length():
    with pytest.raises(ValueError, match="window of shape"):
        initializers.STFT(window=np.ones(5))((8, 1, 5))


# --- STFTSpectrogram --------------------------------------------------------------

MODES = [
    {},
    {"mode": "magnitude", "padding": "same"},
    {"mode": "psd", "expand_dims": True},
    {"mode": "stft", "data_format": "channels_first"},
    {"mode": "angle", "data_format": "channels_first", "expand_dims": True},
    {"mode": "real"},
    {"mode": "imag", "fft_length": 32, "window": "hamming", "periodic": True},
]


@pytest.mark.parametrize("kwargs", MODES)
def test_stft_spectrogram_matches_keras(kwargs):
    channels_last = kwargs.get("data_format", "channels_last") == "channels_last"
    x = RNG.normal(size=(2, 64, 3) if channels_last else (2, 3, 64)).astype("float32")
    theirs = keras.layers.STFTSpectrogram(frame_length=16, frame_step=8, **kwargs)
    expected = to_numpy(theirs(x))
    ours = layers.STFTSpectrogram(frame_length=16, frame_step=8, **kwargs)
    ours(x)
    assert_weights_match_keras(ours, theirs)
    got = to_numpy(ours(x))
    assert got.shape == expected.shape
    if kwargs.get("mode") == "angle":  # compare phases on the circle
        got, expected = np.exp(1j * got), np.exp(1j * expected)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert_config_matches_keras(ours, theirs)
    symbolic = ours(lamina.Input(x.shape[1:]))
    assert tuple(symbolic.shape) == (None,) + expected.shape[1:]


def test_stft_spectrogram_magnitude_matches_torch_stft():
    x = RNG.normal(size=(1, 128, 1)).astype("float32")
    layer = layers.STFTSpectrogram(
        mode="magnitude", frame_length=32, frame_step=16, window=None, scaling=None
    )
    ours = to_numpy(layer(x))[0]
    z = torch.stft(
        torch.as_tensor(x[0, :, 0]),
        n_fft=32,
        hop_length=16,
        center=False,
        window=torch.ones(32),
        return_complex=True,
    )
    np.testing.assert_allclose(ours, z.abs().T.numpy(), rtol=1e-4, atol=1e-4)


def test_stft_spectrogram_config_and_file_round_trip(tmp_path):
    layer = layers.STFTSpectrogram(mode="psd", frame_length=16, frame_step=4)
    clone = assert_from_config_round_trip(layer)
    assert clone.mode == "psd" and clone.frame_step == 4
    x = RNG.normal(size=(2, 64, 1)).astype("float32")
    assert_model_file_round_trip(
        layers.STFTSpectrogram(frame_length=16), (64, 1), x, tmp_path
    )


def test_stft_spectrogram_rejects_integer_signals():
    with pytest.raises(TypeError, match="float"):
        layers.STFTSpectrogram(frame_length=8)(np.ones((1, 32, 1), "int32"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "power"}, "mode"),
        ({"frame_step": 0}, "frame_step"),
        ({"frame_step": 32}, "frame_step"),
        ({"fft_length": 8}, "fft_length"),
        ({"padding": "causal"}, "padding"),
        ({"scaling": "db"}, "scaling"),
    ],
)
def test_stft_spectrogram_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.STFTSpectrogram(frame_length=16, **kwargs)


# --- MelSpectrogram ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "power_to_db": False,
            "mag_exp": 1.0,
            "window": "hamming",
            "sequence_length": 48,
        },
        {"max_freq": 4000, "min_freq": 100.0, "top_db": 20.0, "ref_power": 2.0},
    ],
)
def test_mel_spectrogram_matches_keras(kwargs):
    x = RNG.normal(size=(2, 208)).astype("float32")
    options = {"fft_length": 64, "sequence_stride": 16, "num_mel_bins": 8, **kwargs}
    theirs = keras.layers.MelSpectrogram(**options)
    ours = layers.MelSpectrogram(**options)
    expected = to_numpy(theirs(x))
    np.testing.assert_allclose(to_numpy(ours(x)), expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(
        to_numpy(ours(x[0])), to_numpy(theirs(x[0])), rtol=1e-5, atol=1e-4
    )
    assert ours.weights == []
    assert_config_matches_keras(ours, theirs)


def test_mel_weight_matrix_matches_keras():
    ours = layers.MelSpectrogram().linear_to_mel_weight_matrix(10, 33, 8000, 100, 3000)
    theirs = keras.layers.MelSpectrogram().linear_to_mel_weight_matrix(
        10, 33, 8000, 100, 3000
    )
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), atol=1e-6)


def test_mel_spectrogram_symbolic_shape_counts_centred_frames(tmp_path):
    layer = layers.MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=8)
    assert tuple(layer(lamina.Input((207,))).shape) == (None, 8, 13)
    assert tuple(layer(np.zeros((1, 207), "float32")).shape) == (1, 8, 13)
    clone = assert_from_config_round_trip(layer)
    assert clone.max_freq == 8000
    x = RNG.normal(size=(2, 208)).astype("float32")
    assert_model_file_round_trip(layer, (208,), x, tmp_path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"fft_length": 64, "sequence_length": 128}, "sequence_length"),
        ({"num_mel_bins": 0}, "num_mel_bins"),
        ({"sequence_stride": 2.5}, "sequence_stride"),
    ],
)
def test_mel_spectrogram_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.MelSpectrogram(**kwargs)
