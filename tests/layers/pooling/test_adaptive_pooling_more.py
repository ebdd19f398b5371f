"""AdaptiveAveragePooling1D/2D/3D and AdaptiveMaxPooling1D/2D/3D against Keras 3."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina  # noqa: E402
from lamina import layers  # noqa: E402
from tests.layers._parity_more import (  # noqa: E402
    assert_config_matches_keras,
    assert_from_config_round_trip,
    assert_model_file_round_trip,
    to_numpy,
)

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
SPATIAL = {1: (7,), 2: (7, 5), 3: (5, 4, 3)}
SIZES = {1: [3, (2,)], 2: [2, (3, 2)], 3: [2, (3, 2, 1)]}
CASES = [
    (kind, rank, size, data_format)
    for kind in ("Average", "Max")
    for rank in (1, 2, 3)
    for size in SIZES[rank]
    for data_format in ("channels_last", "channels_first")
]


def _shape(rank, data_format, channels=3):
    if data_format == "channels_last":
        return SPATIAL[rank] + (channels,)
    return (channels,) + SPATIAL[rank]


@pytest.mark.parametrize("kind, rank, size, data_format", CASES)
def test_adaptive_pooling_matches_keras(kind, rank, size, data_format):
    name = f"Adaptive{kind}Pooling{rank}D"
    x = RNG.normal(size=(2,) + _shape(rank, data_format)).astype("float32")
    theirs = getattr(keras.layers, name)(size, data_format=data_format)
    ours = getattr(layers, name)(size, data_format=data_format)
    expected = to_numpy(theirs(x))
    np.testing.assert_allclose(to_numpy(ours(x)), expected, rtol=1e-6, atol=1e-6)
    assert ours.weights == []
    assert_config_matches_keras(ours, theirs)
    symbolic = ours(lamina.Input(_shape(rank, data_format)))
    assert tuple(symbolic.shape) == (None,) + expected.shape[1:]


def test_adaptive_average_pooling1d_windows_overlap_like_torch():
    x = np.arange(5, dtype="float32").reshape(1, 5, 1)
    out = to_numpy(layers.AdaptiveAveragePooling1D(3)(x))[0, :, 0]
    # Windows [0, 2), [1, 4), [3, 5).
    np.testing.assert_allclose(out, [0.5, 2.0, 3.5])
    out = to_numpy(layers.AdaptiveMaxPooling1D(3)(x))[0, :, 0]
    np.testing.assert_allclose(out, [1.0, 3.0, 4.0])


def test_adaptive_pooling_config_and_file_round_trip(tmp_path):
    layer = layers.AdaptiveMaxPooling2D((2, 3), data_format="channels_first")
    clone = assert_from_config_round_trip(layer)
    assert clone.output_size == (2, 3) and clone.data_format == "channels_first"
    x = RNG.normal(size=(2, 7, 5, 3)).astype("float32")
    assert_model_file_round_trip(
        layers.AdaptiveAveragePooling2D(2), (7, 5, 3), x, tmp_path
    )


@pytest.mark.parametrize("size", [(2, 2), (1, 2, 3, 4)])
def test_adaptive_pooling_rejects_wrong_output_size_length(size):
    with pytest.raises(ValueError, match="output_size"):
        layers.AdaptiveMaxPooling3D(size)


@pytest.mark.parametrize("size", ["2", 2.0, None])
def test_adaptive_pooling_rejects_output_size_of_wrong_type(size):
    with pytest.raises(TypeError, match="output_size"):
        layers.AdaptiveAveragePooling2D(size)


def test_adaptive_pooling_rejects_non_positive_sizes_and_bad_data_format():
    with pytest.raises(ValueError, match="positive int"):
        layers.AdaptiveAveragePooling1D(0)
    with pytest.raises(ValueError, match="data_format"):
        layers.AdaptiveMaxPooling2D(2, data_format="NHWC")


def test_adaptive_pooling_rejects_inputs_of_wrong_rank():
    with pytest.raises(ValueError, match="ndim=4|rank 4|expected"):
        layers.AdaptiveMaxPooling2D(2)(np.ones((2, 5, 3), "float32"))
