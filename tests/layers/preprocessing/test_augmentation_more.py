"""The Keras 3 augmentation layers added in one go: RandomCrop ... HashedCrossing.

Seeded draws follow Keras's torch backend, so most random layers match Keras
value for value with the same seed; the rest is checked statistically.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import layers  # noqa: E402

keras = pytest.importorskip("keras")

# Keras's own Equalization (torch backend) warns about `Tensor.T` on 0-d tensors.
pytestmark = pytest.mark.filterwarnings("ignore:Tensor.T is deprecated")

IMAGES = np.random.default_rng(0).uniform(0, 255, size=(3, 6, 7, 3)).astype("float32")

# (class name, constructor kwargs) for the seeded comparisons with Keras.
SEEDED_CASES = [
    ("RandomBrightness", {"factor": 0.3, "seed": 3}),
    ("RandomGrayscale", {"factor": 0.5, "seed": 3}),
    ("RandomHue", {"factor": 0.4, "seed": 3}),
    ("RandomSaturation", {"factor": 0.4, "seed": 3}),
    ("RandomColorDegeneration", {"factor": 0.4, "seed": 3}),
    (
        "RandomColorJitter",
        {
            "brightness_factor": 0.2,
            "contrast_factor": 0.3,
            "saturation_factor": 0.4,
            "hue_factor": 0.2,
            "seed": 3,
        },
    ),
    ("RandomInvert", {"factor": 0.5, "seed": 3}),
    ("RandomPosterization", {"factor": (2, 6), "seed": 3}),
    ("RandomSharpness", {"factor": 0.7, "seed": 3}),
    ("RandomShear", {"x_factor": 0.3, "y_factor": 0.2, "seed": 3}),
    ("RandomShear", {"x_factor": 0.3, "fill_mode": "constant", "seed": 4}),
    ("RandomErasing", {"seed": 3}),
    ("RandomErasing", {"fill_value": 5.0, "scale": (0.2, 0.5), "seed": 3}),
    ("RandomGaussianBlur", {"factor": 0.8, "sigma": (0.2, 0.9), "seed": 3}),
    ("Solarization", {"addition_factor": 0.3, "threshold_factor": 0.6, "seed": 3}),
    ("AutoContrast", {}),
    ("AutoContrast", {"value_range": (0, 1)}),
    ("Equalization", {}),
    ("Equalization", {"bins": 16}),
    ("MixUp", {"seed": 3}),
    ("CutMix", {"seed": 3}),
    ("RandomCrop", {"height": 4, "width": 5, "seed": 3}),
]


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _pair(name, kwargs):
    return getattr(keras.layers, name)(**kwargs), getattr(layers, name)(**kwargs)


@pytest.mark.parametrize("name, kwargs", SEEDED_CASES)
def test_seeded_training_outputs_match_keras_over_two_calls(name, kwargs):
    k_layer, l_layer = _pair(name, kwargs)
    images = IMAGES / 255.0 if kwargs.get("value_range") == (0, 1) else IMAGES
    for _ in range(2):  # the second call checks the seed generators advance alike
        expected = _np(k_layer(images, training=True))
        got = _np(l_layer(images, training=True))
        assert got.shape == expected.shape
        assert got.dtype == np.float32
        # Shear resamples with grid_sample: float32 rounding differs slightly.
        np.testing.assert_allclose(got, expected, rtol=0, atol=2e-3)


@pytest.mark.parametrize("name, kwargs", SEEDED_CASES)
def test_config_has_keras_keys_and_rebuilds_the_layer(name, kwargs):
    k_layer, l_layer = _pair(name, kwargs)
    k_config, l_config = k_layer.get_config(), l_layer.get_config()
    # lamina also stores the seed of RandomGrayscale, which Keras drops.
    assert set(l_config) - set(k_config) <= {"seed"}
    assert set(k_config) <= set(l_config)
    for key in set(k_config) - {"name", "dtype"}:
        expected = k_config[key]
        got = l_config[key]
        if isinstance(expected, (tuple, list)):
            assert list(got) == list(expected), key
        else:
            assert got == expected, key
    rebuilt = type(l_layer).from_config(l_config)
    assert rebuilt.get_config() == l_config


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomBrightness", {"factor": 0.3}),
        ("RandomGrayscale", {"factor": 1.0}),
        ("RandomHue", {"factor": 0.4}),
        ("RandomSaturation", {"factor": 0.4}),
        ("RandomColorDegeneration", {"factor": 0.4}),
        ("RandomColorJitter", {"brightness_factor": 0.2, "hue_factor": 0.2}),
        ("RandomInvert", {"factor": (1.0, 1.0)}),
        ("RandomPosterization", {"factor": (2, 6)}),
        ("RandomSharpness", {"factor": 0.7}),
        ("RandomShear", {"x_factor": 0.3}),
        ("RandomErasing", {"factor": (1.0, 1.0)}),
        ("RandomGaussianBlur", {"factor": (1.0, 1.0)}),
        ("Solarization", {}),
        ("Equalization", {}),
        ("MixUp", {}),
        ("CutMix", {}),
    ],
)
def test_random_layers_change_images_in_training_only(name, kwargs):
    layer = getattr(layers, name)(**kwargs)
    trained = _np(layer(IMAGES, training=True))
    assert trained.shape == IMAGES.shape
    assert not np.allclose(trained, IMAGES)
    np.testing.assert_array_equal(_np(layer(IMAGES, training=False)), IMAGES)
    layer.eval()  # torch's inference mode turns a direct call off too
    np.testing.assert_array_equal(_np(layer(IMAGES)), IMAGES)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomBrightness", {"factor": 0.5}),
        ("RandomHue", {"factor": 1.0}),
        ("RandomColorDegeneration", {"factor": 1.0}),
        ("RandomSharpness", {"factor": 1.0}),
        ("RandomGaussianBlur", {"factor": 1.0}),
        ("RandomColorJitter", {"brightness_factor": 0.9, "contrast_factor": 0.9}),
    ],
)
def test_outputs_stay_within_value_range(name, kwargs):
    layer = getattr(layers, name)(value_range=(0, 255), **kwargs)
    out = _np(layer(np.concatenate([IMAGES] * 4), training=True))
    assert out.min() >= 0.0 and out.max() <= 255.0


def test_a_seed_reproduces_the_same_sequence_of_draws():
    first = layers.RandomShear(x_factor=0.5, y_factor=0.5, seed=11)
    second = layers.RandomShear(x_factor=0.5, y_factor=0.5, seed=11)
    a1, a2 = _np(first(IMAGES, training=True)), _np(first(IMAGES, training=True))
    np.testing.assert_array_equal(a1, _np(second(IMAGES, training=True)))
    np.testing.assert_array_equal(a2, _np(second(IMAGES, training=True)))
    assert not np.array_equal(a1, a2)


def test_single_images_are_transformed_like_a_batch_of_one():
    layer = layers.RandomInvert(factor=(1.0, 1.0))
    out = layer(IMAGES[0], training=True)
    assert tuple(out.shape) == IMAGES[0].shape
    np.testing.assert_allclose(_np(out), 255.0 - IMAGES[0])


def test_pinned_factors_give_keras_deterministic_values():
    x = np.array([[[[0.25, 0.5, 1.0]]]], "float32")
    brightness = layers.RandomBrightness((0.5, 0.5), value_range=(0, 1))
    np.testing.assert_allclose(_np(brightness(x, training=True)), [[[[0.75, 1, 1]]]])
    invert = layers.RandomInvert((1.0, 1.0), value_range=(0, 1))
    np.testing.assert_allclose(_np(invert(x, training=True)), 1.0 - x)
    # Hue shifted by half of 0.5, in either direction, of a pure red pixel.
    hue = _np(
        layers.RandomHue((0.5, 0.5), value_range=(0, 1))(
            np.array([[[[1.0, 0.0, 0.0]]]], "float32"), training=True
        )
    )
    assert any(np.allclose(hue, c, atol=1e-6) for c in ([0.5, 1, 0], [0.5, 0, 1]))
    np.testing.assert_allclose(hue.flatten()[0], 0.5, atol=1e-6)


def test_solarization_defaults_invert_every_pixel_like_keras():
    x = np.array([[[[0.0, 100.0, 255.0]]]], "float32")
    np.testing.assert_allclose(_np(layers.Solarization()(x)), 255.0 - x)
    # Keras draws thresholds in [lower, upper * 255], here [1, 255]: 0 stays
    # below any of them, 255 reaches all of them.
    out = _np(layers.Solarization(threshold_factor=(1.0, 1.0))(x, training=True))
    assert out[0, 0, 0, 0] == 0.0 and out[0, 0, 0, 2] == 0.0


def test_auto_contrast_stretches_each_channel_and_keeps_flat_ones():
    x = np.array([[[[10.0, 7.0]], [[20.0, 7.0]], [[30.0, 7.0]]]], "float32")
    out = _np(layers.AutoContrast()(x))
    np.testing.assert_allclose(out[..., 0].flatten(), [0.0, 127.5, 255.0])
    np.testing.assert_allclose(out[..., 1], x[..., 1])
    expected = _np(keras.layers.AutoContrast()(x))
    np.testing.assert_allclose(out, expected)


def test_equalization_matches_keras_on_uint8_images_in_both_formats():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 120, size=(2, 5, 5, 3)).astype("uint8")
    expected = _np(keras.layers.Equalization()(x))
    np.testing.assert_allclose(_np(layers.Equalization()(x)), expected)
    first = np.transpose(x, (0, 3, 1, 2))
    got = _np(layers.Equalization(data_format="channels_first")(first))
    np.testing.assert_allclose(np.transpose(got, (0, 2, 3, 1)), expected)


def test_channels_first_gives_the_channels_last_result():
    first = np.transpose(IMAGES, (0, 3, 1, 2))
    for name, kwargs in [
        ("RandomSharpness", {"factor": 0.9, "seed": 2}),
        ("RandomGaussianBlur", {"factor": (1.0, 1.0), "seed": 2}),
        ("RandomHue", {"factor": 0.4, "seed": 2}),
        ("RandomErasing", {"fill_value": 0.0, "seed": 2}),
        ("RandomShear", {"x_factor": 0.3, "seed": 2}),
    ]:
        last = _np(getattr(layers, name)(**kwargs)(IMAGES, training=True))
        layer = getattr(layers, name)(data_format="channels_first", **kwargs)
        got = np.transpose(_np(layer(first, training=True)), (0, 2, 3, 1))
        np.testing.assert_allclose(got, last, atol=1e-3, err_msg=name)


def test_mix_up_outputs_are_convex_combinations_of_batch_images():
    x = np.stack([np.full((2, 2, 1), v, "float32") for v in (0.0, 10.0, 20.0, 30.0)])
    out = _np(layers.MixUp(alpha=0.5, seed=1)(x, training=True))
    assert out.min() >= 0.0 and out.max() <= 30.0
    # Each output image is constant (a mix of constant images).
    np.testing.assert_allclose(out, np.broadcast_to(out[:, :1, :1], out.shape))


def test_cut_mix_pastes_pixels_from_other_images_and_skips_single_images():
    x = np.stack([np.full((8, 8, 1), v, "float32") for v in (1.0, 2.0, 3.0, 4.0)])
    out = _np(layers.CutMix(seed=2)(x, training=True))
    assert set(np.unique(out)) <= {1.0, 2.0, 3.0, 4.0}
    np.testing.assert_array_equal(_np(layers.CutMix()(x[0], training=True)), x[0])


def test_random_crop_windows_come_from_the_image_and_inference_resizes():
    x = np.arange(6 * 8, dtype="float32").reshape(1, 6, 8, 1)
    layer = layers.RandomCrop(3, 4, seed=1)
    out = _np(layer(x, training=True))[0, :, :, 0]
    top, left = divmod(int(out[0, 0]), 8)
    np.testing.assert_array_equal(out, x[0, top : top + 3, left : left + 4, 0])
    # Inference: the largest central 3:4 window (6 x 8 here), resized.
    expected = _np(lamina.layers.Resizing(3, 4)(x))
    np.testing.assert_allclose(_np(layer(x, training=False)), expected)


def test_posterization_keeps_the_top_bits():
    x = np.array([[[[200.0, 100.0, 255.0]]]], "float32")
    out = _np(layers.RandomPosterization((2, 2))(x, training=True))
    np.testing.assert_array_equal(out, [[[[192.0, 64.0, 192.0]]]])


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomCrop", {"height": 4, "width": 5}),
        ("RandomBrightness", {"factor": 0.2}),
        ("RandomGrayscale", {}),
        ("RandomHue", {"factor": 0.2}),
        ("RandomSaturation", {"factor": 0.2}),
        ("RandomColorDegeneration", {"factor": 0.2}),
        ("RandomColorJitter", {"hue_factor": 0.2}),
        ("RandomInvert", {}),
        ("RandomPosterization", {"factor": 4}),
        ("RandomSharpness", {"factor": 0.2}),
        ("RandomShear", {"x_factor": 0.2}),
        ("RandomErasing", {}),
        ("RandomGaussianBlur", {}),
        ("Solarization", {}),
        ("AutoContrast", {}),
        ("Equalization", {}),
        ("MixUp", {}),
        ("CutMix", {}),
    ],
)
def test_symbolic_build_gives_keras_output_shape(name, kwargs):
    inputs = lamina.Input(shape=(6, 7, 3))
    outputs = getattr(layers, name)(**kwargs)(inputs)
    k_outputs = getattr(keras.layers, name)(**kwargs)(keras.Input(shape=(6, 7, 3)))
    assert tuple(outputs.shape) == tuple(k_outputs.shape)


def test_pipeline_chains_layers_and_round_trips_its_config():
    pipeline = layers.Pipeline(
        [layers.RandomInvert((1.0, 1.0)), layers.Rescaling(0.5, offset=1.0)]
    )
    x = np.array([[[[55.0]]]], "float32")
    np.testing.assert_allclose(_np(pipeline(x, training=True)), [[[[101.0]]]])
    np.testing.assert_allclose(_np(pipeline(x, training=False)), [[[[28.5]]]])
    config = pipeline.get_config()
    k_pipeline = keras.layers.Pipeline.from_config(config)
    np.testing.assert_allclose(_np(k_pipeline(x, training=True)), [[[[101.0]]]])
    rebuilt = layers.Pipeline.from_config(config)
    assert [type(layer).__name__ for layer in rebuilt.layers] == [
        "RandomInvert",
        "Rescaling",
    ]
    with pytest.raises(ValueError, match="list of layers"):
        layers.Pipeline("rescaling")


def test_hashed_crossing_matches_keras_published_bins():
    # Keras's own test values (computed by TensorFlow's sparse.cross_hashed).
    feat1 = np.array(["A", "B", "A", "B", "A"])
    feat2 = np.array([101, 101, 101, 102, 102])
    out = layers.HashedCrossing(num_bins=5)((feat1, feat2))
    assert out.dtype == torch.int64
    np.testing.assert_array_equal(_np(out), [1, 4, 1, 1, 3])
    one_hot = layers.HashedCrossing(num_bins=5, output_mode="one_hot")((feat1, feat2))
    np.testing.assert_array_equal(_np(one_hot).argmax(-1), [1, 4, 1, 1, 3])
    assert one_hot.dtype == torch.float32
    column = layers.HashedCrossing(num_bins=5)((feat1[:, None], feat2[:, None]))
    assert tuple(column.shape) == (5, 1)


def test_hashed_crossing_shapes_config_and_errors():
    layer = layers.HashedCrossing(num_bins=4, output_mode="one_hot")
    a, b = (
        lamina.Input(shape=(1,), dtype="int64"),
        lamina.Input(shape=(1,), dtype="int64"),
    )
    assert tuple(layer((a, b)).shape) == (None, 4)
    assert layer.get_config() == {
        "num_bins": 4,
        "output_mode": "one_hot",
        "sparse": False,
        "name": layer.name,
        "dtype": "float32",
    }
    with pytest.raises(ValueError, match="list or tuple"):
        layers.HashedCrossing(num_bins=3)(np.array([1]))
    with pytest.raises(ValueError, match="at least two"):
        layers.HashedCrossing(num_bins=3)([np.array([1])])
    with pytest.raises(ValueError, match="equal shape"):
        layers.HashedCrossing(num_bins=3)([np.array([1, 2]), np.array([1])])
    with pytest.raises(ValueError, match="integer or string"):
        layers.HashedCrossing(num_bins=3)([np.array([1.5]), np.array([1])])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.RandomCrop(0, 3), "height.*positive int"),
        (lambda: layers.RandomBrightness(2.0), "factor"),
        (lambda: layers.RandomGrayscale(factor=1.5), "factor"),
        (lambda: layers.RandomInvert(factor=(0.2, 0.3, 0.4)), "factor"),
        (lambda: layers.Solarization(addition_factor=1.5), "addition_factor"),
        (lambda: layers.RandomShear(x_factor=2.0), "x_factor"),
        (lambda: layers.RandomGaussianBlur(kernel_size=4), "kernel_size.*odd"),
        (lambda: layers.RandomGaussianBlur(sigma=2.0), "got sigma=2.0"),
        (lambda: layers.RandomErasing(fill_value=(1, 2)), "fill_value"),
        (lambda: layers.AutoContrast(value_range=5), "value_range"),
        (lambda: layers.Equalization(bins=1), "bins"),
        (lambda: layers.MixUp(alpha=0), "alpha"),
        (lambda: layers.HashedCrossing(num_bins=0), "num_bins"),
        (lambda: layers.HashedCrossing(num_bins=2, output_mode="count"), "output_mode"),
    ],
)
def test_bad_arguments_raise_clear_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_fill_mode_must_be_known():
    with pytest.raises(NotImplementedError, match="fill_mode"):
        layers.RandomShear(x_factor=0.1, fill_mode="mirror2")
