"""Session 9 (helper-100): differences found by Keras's own layer, initializer
and regularization tests, fixed in lamina."""

import inspect
import os

import numpy as np
import pytest

import lamina
from lamina import initializers, layers

os.environ.setdefault("KERAS_BACKEND", "torch")

_WINDOW_NAMES = [
    "hann",
    "hamming",
    "blackman",
    "bartlett",
    "boxcar",
    "triang",
    "tukey",
    "nuttall",
    "flattop",
    "blackmanharris",
    "bohman",
    "parzen",
    "barthann",
    "cosine",
    "exponential",
    "lanczos",
    "han",  # a scipy alias
]


@pytest.mark.parametrize("window", _WINDOW_NAMES)
@pytest.mark.parametrize("periodic", [False, True])
def test_stft_named_windows_match_keras(window, periodic):
    keras = pytest.importorskip("keras")
    shape = (15, 1, 9)
    ours = initializers.STFT("real", window, "density", periodic)(shape)
    theirs = keras.initializers.STFT("real", window, "density", periodic)(shape)
    np.testing.assert_allclose(
        np.asarray(ours), keras.ops.convert_to_numpy(theirs), atol=1e-6
    )


def test_stft_imag_side_with_tukey_matches_keras():
    keras = pytest.importorskip("keras")
    shape = (32, 1, 17)
    ours = initializers.STFT("imag", "tukey", "spectrum", True)(shape)
    theirs = keras.initializers.STFT("imag", "tukey", "spectrum", True)(shape)
    np.testing.assert_allclose(
        np.asarray(ours), keras.ops.convert_to_numpy(theirs), atol=1e-6
    )


@pytest.mark.parametrize("window", ["kaiser", "gaussian", "no_such_window"])
def test_stft_rejects_windows_it_cannot_build_by_name(window):
    # Keras (scipy) refuses these names too: kaiser and gaussian need a parameter.
    with pytest.raises(ValueError, match=r"window.*'tukey'") as info:
        initializers.STFT(window=window)
    assert repr(window) in str(info.value)


def test_random_elastic_transform_keeps_value_range_type():
    default = layers.RandomElasticTransform().get_config()["value_range"]
    assert default == (0, 255) and isinstance(default, tuple)
    given = layers.RandomElasticTransform(value_range=[0, 1]).get_config()
    assert given["value_range"] == [0, 1] and isinstance(given["value_range"], list)


@pytest.mark.parametrize(
    "name", ["AveragePooling1D", "AveragePooling2D", "AveragePooling3D"]
)
def test_average_pooling_requires_pool_size(name):
    with pytest.raises(TypeError, match="pool_size"):
        getattr(layers, name)()


@pytest.mark.parametrize(
    "name",
    [
        "AveragePooling1D",
        "AveragePooling2D",
        "AveragePooling3D",
        "MaxPooling1D",
        "MaxPooling2D",
        "MaxPooling3D",
    ],
)
def test_pooling_pool_size_default_matches_keras(name):
    keras = pytest.importorskip("keras")
    ours = inspect.signature(getattr(layers, name)).parameters["pool_size"]
    theirs = inspect.signature(getattr(keras.layers, name)).parameters["pool_size"]
    assert ours.default == theirs.default


# Keras's key phrases, now inside lamina's (longer) messages.
_MESSAGES = [
    (lambda: layers.ReLU(max_value=-10), "max_value of a ReLU layer cannot be"),
    (
        lambda: layers.ReLU(threshold=None),
        "threshold of a ReLU layer cannot be None or a negative value",
    ),
    (
        lambda: layers.LeakyReLU(negative_slope=None),
        "The negative_slope value of a Leaky ReLU layer cannot be None",
    ),
    (
        lambda: layers.Conv1D(filters=0, kernel_size=1),
        r"Invalid value for argument `filters`. Expected a strictly positive "
        r"value. Received filters=0.",
    ),
    (
        lambda: layers.Conv2D(2, kernel_size=(1, 0)),
        r"The `kernel_size` argument must be a tuple of 2 integers. Received "
        r"kernel_size=\(1, 0\), including values \{0\} that do not satisfy "
        r"`value > 0`",
    ),
    (
        lambda: layers.Conv2D(5, (2, 2), groups=0),
        r"The number of groups must be a positive integer. Received: groups=0.",
    ),
    (
        lambda: layers.Conv2D(5, (2, 2), groups=2),
        r"The number of filters must be evenly divisible by the number of "
        r"groups. Received: groups=2, filters=5.",
    ),
    (
        lambda: layers.Conv2D(2, (2, 2), strides=2, dilation_rate=(2, 1)),
        r"`strides > 1` not supported in conjunction with `dilation_rate > 1`",
    ),
    (
        lambda: layers.Dropout(1.5),
        r"Invalid value received for argument `rate`. Expected a float value "
        r"between 0 and 1.",
    ),
    (
        lambda: layers.AlphaDropout(-0.5),
        r"Invalid value received for argument `rate`. Expected a float value "
        r"between 0 and 1.",
    ),
    (
        lambda: layers.Dropout(0.5, noise_shape=(20, 1.5, 10)),
        r"Expected all elements to be integers or None",
    ),
    (
        lambda: layers.Dropout(0.5, noise_shape=(20, 0, 10)),
        r"Expected all dimensions to be positive integers or None",
    ),
    (
        lambda: layers.Dropout(0.5, noise_shape=5),
        r"`noise_shape`. Expected a tuple or list of integers",
    ),
    (
        lambda: layers.Reshape((-2, 5)),
        r"non-negative integer.*-1.*target_shape=\(-2, 5\)",
    ),
    (
        lambda: layers.Reshape((-1, -1, 5)),
        r"at most one unknown dimension.*target_shape=\(-1, -1, 5\)",
    ),
    (lambda: layers.GroupNormalization(groups=0), "argument `groups`"),
    (
        lambda: layers.SpectralNormalization(layers.Dense(2), power_iterations=0),
        r"`power_iterations` should be greater than zero.",
    ),
    (
        lambda: layers.BatchNormalization(
            renorm=True, renorm_clipping={"random_key": 1.0}
        ),
        "Received invalid keys",
    ),
    (
        lambda: layers.BatchNormalization(
            renorm=True, renorm_clipping={"rmax": 0.0, "rmin": 1.0}
        ),
        "rmax should be",
    ),
    (
        lambda: initializers.VarianceScaling(scale=-1.0),
        r"Argument `scale` must be positive float.",
    ),
    (
        lambda: initializers.VarianceScaling(mode="bad"),
        r"Invalid `mode` argument:",
    ),
    (
        lambda: initializers.VarianceScaling(distribution="bad"),
        r"Invalid `distribution` argument:",
    ),
]


@pytest.mark.parametrize("make, phrase", _MESSAGES)
def test_constructor_errors_carry_keras_phrase(make, phrase):
    with pytest.raises(ValueError, match=phrase):
        make()


@pytest.mark.parametrize(
    "cls, phrase",
    [
        (
            layers.LayerNormalization,
            "Expected an int or a list/tuple of ints for the argument 'axis'",
        ),
        (
            layers.UnitNormalization,
            r"Invalid value for `axis` argument: expected an int or a "
            r"list/tuple of ints.",
        ),
    ],
)
def test_bad_axis_type_carries_keras_phrase(cls, phrase):
    with pytest.raises(TypeError, match=phrase):
        cls(axis={"axis": -1})


def test_call_time_errors_carry_keras_phrase():
    x = np.ones((1, 3), "float32")
    with pytest.raises(ValueError, match="broadcastable"):
        layers.Softmax()(x, mask=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="must not have more dimensions"):
        layers.Softmax()(x, mask=np.ones((1, 1, 3), bool))
    with pytest.raises(ValueError, match="cannot be more than the number of channels"):
        layers.GroupNormalization(groups=5)(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="must be a multiple of the number of chan"):
        layers.GroupNormalization(groups=3)(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="object has no attribute 'kernel' nor"):
        layers.SpectralNormalization(layers.ReLU())(x)
    with pytest.raises(ValueError, match="Computed output size would be zero"):
        layers.DepthwiseConv1D(11, strides=5)(np.ones((1, 5, 2), "float32"))
    with pytest.raises(
        ValueError, match="requires inputs with matching shapes except for the"
    ):
        layers.Concatenate()([np.ones((1, 2, 5)), np.ones((1, 1, 4))])
    with pytest.raises(ValueError, match="layer should be called on exactly 2"):
        layers.Subtract()([x, x, x])
    with pytest.raises(ValueError, match="Expected `shape` to be"):
        lamina.layers.Dense(
            10, kernel_initializer=initializers.get(np.ones((5, 5), "float32"))
        )(np.ones((2, 10), "float32"))


def test_conv_transpose_output_padding_error_has_keras_phrase():
    with pytest.raises(
        ValueError, match="`output_padding` must be strictly less than `strides`"
    ):
        layers.Conv1DTranspose(2, 3, strides=2, output_padding=2)
