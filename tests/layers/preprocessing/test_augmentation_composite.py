"""RandomPerspective, RandomElasticTransform, CLAHE, AugMix and RandAugment.

Seeded draws follow Keras's torch backend, so RandomPerspective and
RandAugment match Keras value for value with the same seed; AugMix does once
its chain picks (Python's `random` in Keras) are pinned, and the elastic
transform once its displacement noise (torch's global RNG in Keras) is.
"""

import itertools
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import layers  # noqa: E402
from lamina.layers.preprocessing._base_image_layer import sample_pixels  # noqa: E402

keras = pytest.importorskip("keras")

# Keras's own Equalization (torch backend) warns about `Tensor.T` on 0-d tensors.
pytestmark = pytest.mark.filterwarnings("ignore:Tensor.T is deprecated")

IMAGES = np.random.default_rng(0).uniform(0, 255, size=(3, 6, 7, 3)).astype("float32")

CLAHE = "ContrastLimitedAdaptiveHistogramEqualization"
NEW_LAYERS = [
    ("RandomPerspective", {"factor": 0.7, "scale": 0.4, "seed": 3}),
    ("RandomElasticTransform", {"factor": 0.6, "scale": (0.2, 0.8), "seed": 3}),
    (CLAHE, {"clip_limit": 2.0, "tile_grid_size": (2, 3)}),
    ("AugMix", {"num_chains": 2, "chain_depth": 2, "alpha": 0.5, "seed": 3}),
    ("RandAugment", {"num_ops": 3, "factor": 0.7, "seed": 3}),
]


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _pair(name, kwargs):
    return getattr(keras.layers, name)(**kwargs), getattr(layers, name)(**kwargs)


def _without_keras_side_effects(k_layer, names):
    """Keras's torch backend mutates arguments in place (RandomBrightness adds
    to its input images, `affine_transform` swaps entries of the transform
    matrix), which leaks between RandAugment's candidates: give each Keras
    sub-layer fresh copies, to compare with the intended results."""
    for name in names:
        sub = getattr(k_layer, name)

        def transform(
            images, transformation, training=True, _orig=sub.transform_images
        ):
            if isinstance(transformation, dict):
                transformation = {
                    key: value.clone() if isinstance(value, torch.Tensor) else value
                    for key, value in transformation.items()
                }
            images = torch.clone(torch.as_tensor(images))
            return _orig(images, transformation, training)

        sub.transform_images = transform


# --- values against Keras ----------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"factor": (1.0, 1.0), "scale": 0.5, "seed": 3},
        {
            "factor": 0.8,
            "scale": 0.3,
            "interpolation": "nearest",
            "fill_value": 7.0,
            "seed": 4,
        },
        {"factor": (1.0, 1.0), "seed": 5, "data_format": "channels_first"},
    ],
)
def test_random_perspective_matches_keras_seeded_over_two_calls(kwargs):
    k_layer, l_layer = _pair("RandomPerspective", kwargs)
    images = IMAGES
    if kwargs.get("data_format") == "channels_first":
        images = np.ascontiguousarray(IMAGES.transpose(0, 3, 1, 2))
    for _ in range(2):
        expected = _np(k_layer(images, training=True))
        got = _np(l_layer(images, training=True))
        assert got.dtype == np.float32 and got.shape == images.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)


# Seeds whose picks avoid AutoContrast right after a geometric op on an image
# that brightness made flat: there it stretches grid_sample's float32 rounding.
@pytest.mark.parametrize(
    "seed, num_ops, factor", [(3, 2, 0.5), (5, 3, 0.8), (8, 4, (0.2, 0.6))]
)
def test_rand_augment_matches_keras_seeded(seed, num_ops, factor):
    kwargs = {"seed": seed, "num_ops": num_ops, "factor": factor}
    k_layer, l_layer = _pair("RandAugment", kwargs)
    _without_keras_side_effects(k_layer, k_layer._AUGMENT_LAYERS)
    images = torch.tensor(IMAGES)
    for _ in range(3):
        k_t = k_layer.get_random_transformation(images)
        l_t = l_layer.get_random_transformation(images)
        assert l_t["layer_idxes"].tolist() == k_t["layer_idxes"].tolist()
        expected = _np(k_layer.transform_images(images, k_t))
        got = _np(l_layer.transform_images(images, l_t))
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=0, atol=2e-3)


def test_aug_mix_matches_keras_once_chain_picks_are_pinned(monkeypatch):
    from keras.src.layers.preprocessing.image_preprocessing import aug_mix

    kwargs = {"seed": 3, "num_chains": 3, "chain_depth": 3}
    k_layer, l_layer = _pair("AugMix", kwargs)
    _without_keras_side_effects(k_layer, k_layer._augment_layers)
    order = [
        "random_rotation",
        None,
        "equalization",
        "random_shear",
        "solarization",
        "random_contrast",
        "random_posterization",
        "auto_contrast",
        "random_translation",
        "random_brightness",
        "random_sharpness",
        "random_color_degeneration",
    ]
    for _ in range(2):
        keras_picks, lamina_picks = itertools.cycle(order), itertools.cycle(order)
        monkeypatch.setattr(
            aug_mix.py_random, "choice", lambda c, picks=keras_picks: next(picks)
        )
        l_layer._chooser.choice = lambda c, picks=lamina_picks: next(picks)
        expected = _np(k_layer(IMAGES, training=True))
        got = _np(l_layer(IMAGES, training=True))
        np.testing.assert_allclose(got, expected, rtol=0, atol=2e-3)


@pytest.mark.parametrize(
    "kwargs, data_format",
    [
        ({"scale": (0.7, 0.7)}, "channels_last"),
        (
            {
                "scale": (1, 1),
                "fill_mode": "constant",
                "fill_value": 9.0,
                "interpolation": "nearest",
            },
            "channels_first",
        ),
        ({"scale": (0.5, 0.5), "fill_mode": "wrap"}, "channels_last"),
        ({"scale": (0.9, 0.9), "fill_mode": "mirror"}, "channels_last"),
    ],
)
def test_elastic_transform_matches_keras_given_the_same_noise(kwargs, data_format):
    images = np.random.default_rng(1).uniform(0, 255, (2, 16, 12, 3)).astype("float32")
    if data_format == "channels_first":
        images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    images = torch.tensor(images)
    kwargs = {"factor": (1.0, 1.0), "seed": 2, "data_format": data_format, **kwargs}
    k_layer, l_layer = _pair("RandomElasticTransform", kwargs)
    k_t = k_layer.get_random_transformation(images)
    l_t = l_layer.get_random_transformation(images)
    # The seeded draws (apply flags, strength) are Keras's.
    np.testing.assert_array_equal(
        _np(l_t["apply_transform"]), _np(k_t["apply_transform"])
    )
    assert float(l_t["distortion_factor"]) == pytest.approx(
        float(k_t["distortion_factor"])
    )
    # Keras draws the noise from torch's global generator inside the op.
    torch.manual_seed(0)
    expected = _np(k_layer.transform_images(images.clone(), k_t))
    torch.manual_seed(0)
    dx = torch.normal(0.0, 1.0, size=(2, 16, 12))
    dy = torch.normal(0.0, 1.0, size=(2, 16, 12))
    l_t["noise"] = torch.stack([dx, dy])
    got = _np(l_layer.transform_images(images.clone(), l_t))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((3, 6, 7, 3), {"tile_grid_size": (2, 3)}),
        ((2, 9, 10, 1), {"tile_grid_size": (4, 4), "clip_limit": 20.0}),
        ((2, 4, 4, 2), {"tile_grid_size": (8, 8), "clip_limit": 0.0}),
        ((1, 6, 5, 3), {"value_range": (0, 1), "tile_grid_size": (2, 2)}),
        ((2, 3, 8, 6), {"data_format": "channels_first", "tile_grid_size": (2, 3)}),
    ],
)
def test_clahe_matches_keras(shape, kwargs):
    images = np.random.default_rng(2).uniform(0, 255, shape).astype("float32")
    if kwargs.get("value_range") == (0, 1):
        images = images / 255.0
    k_layer, l_layer = _pair(CLAHE, kwargs)
    expected = _np(k_layer(images))
    for training in (True, False):  # deterministic: applied in both modes
        got = _np(l_layer(images, training=training))
        assert got.dtype == np.float32 and got.shape == images.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)


def test_clahe_keeps_integer_dtype_and_single_images_like_keras():
    images = np.random.default_rng(3).integers(0, 256, (2, 8, 8, 3))
    k_layer, l_layer = _pair(CLAHE, {"tile_grid_size": (2, 2)})
    expected = _np(k_layer(images))
    got = _np(l_layer(images))
    assert got.dtype == expected.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(_np(l_layer(images[0])), expected[0])


@pytest.mark.parametrize(
    "fill_mode", ["constant", "nearest", "wrap", "mirror", "reflect"]
)
@pytest.mark.parametrize("interpolation, order", [("bilinear", 1), ("nearest", 0)])
def test_pixel_sampler_matches_keras_map_coordinates(fill_mode, interpolation, order):
    rng = np.random.default_rng(4)
    image = torch.tensor(rng.uniform(0, 255, (9, 11)).astype("float32"))
    coord_y = torch.tensor(rng.uniform(-5, 14, (1, 6, 7)).astype("float32"))
    coord_x = torch.tensor(rng.uniform(-5, 16, (1, 6, 7)).astype("float32"))
    expected = keras.ops.image.map_coordinates(
        image,
        [coord_y[0], coord_x[0]],
        order=order,
        fill_mode=fill_mode,
        fill_value=5.0,
    )
    got = sample_pixels(
        image[None, None], coord_x, coord_y, interpolation, fill_mode, 5.0
    )
    np.testing.assert_allclose(_np(got[0, 0]), _np(expected), rtol=0, atol=1e-3)


# --- statistics and modes ----------------------------------------------------


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomPerspective", {"factor": (1.0, 1.0)}),
        ("RandomElasticTransform", {"factor": (1.0, 1.0), "scale": (0.8, 1.0)}),
        ("AugMix", {}),
        ("RandAugment", {"factor": (0.5, 0.9)}),
    ],
)
def test_random_layers_change_images_in_training_only(name, kwargs):
    layer = getattr(layers, name)(seed=1, **kwargs)
    trained = _np(layer(IMAGES, training=True))
    assert trained.shape == IMAGES.shape and trained.dtype == np.float32
    assert not np.allclose(trained, IMAGES)
    assert trained.min() >= 0.0 and trained.max() <= 255.0
    np.testing.assert_array_equal(_np(layer(IMAGES, training=False)), IMAGES)
    layer.eval()
    np.testing.assert_array_equal(_np(layer(IMAGES)), IMAGES)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomPerspective", {"factor": 0.0}),
        ("RandomPerspective", {"factor": (1.0, 1.0), "scale": 0.0}),
        ("RandomElasticTransform", {"factor": 0.0}),
        ("RandomElasticTransform", {"scale": 0.0}),
    ],
)
def test_zero_factors_leave_images_unchanged(name, kwargs):
    out = _np(getattr(layers, name)(seed=2, **kwargs)(IMAGES, training=True))
    np.testing.assert_allclose(out, IMAGES, rtol=0, atol=1e-3)


@pytest.mark.parametrize("name, kwargs", [(n, k) for n, k in NEW_LAYERS if "seed" in k])
def test_a_seed_reproduces_the_same_sequence_of_outputs(name, kwargs):
    first, second = getattr(layers, name)(**kwargs), getattr(layers, name)(**kwargs)
    a1, a2 = _np(first(IMAGES, training=True)), _np(first(IMAGES, training=True))
    np.testing.assert_array_equal(a1, _np(second(IMAGES, training=True)))
    np.testing.assert_array_equal(a2, _np(second(IMAGES, training=True)))
    assert not np.array_equal(a1, a2)


def test_perspective_probability_factor_sets_the_share_of_warped_images():
    images = np.repeat(IMAGES[:1], 200, axis=0)
    layer = layers.RandomPerspective(factor=(0.5, 0.5), scale=0.5, seed=7)
    out = _np(layer(images, training=True))
    warped = np.abs(out - images).reshape(200, -1).max(axis=1) > 1e-3
    assert 0.35 < warped.mean() < 0.65


def test_perspective_with_full_scale_leaves_corners_fixed_or_fills_outside():
    # Corners move by up to half their own coordinates: the (0, 0) corner stays.
    layer = layers.RandomPerspective(factor=(1.0, 1.0), scale=1.0, fill_value=-1.0)
    images = np.full((4, 8, 8, 1), 3.0, "float32")
    out = _np(layer(images, training=True))
    np.testing.assert_allclose(out[:, 0, 0, 0], 3.0, atol=1e-4)
    assert set(np.round(np.unique(out), 3)) >= {3.0}
    assert out.min() >= -1.0 and out.max() <= 3.0 + 1e-4


def test_aug_mix_output_is_a_blend_within_the_value_range():
    layer = layers.AugMix(value_range=(0, 1), seed=4)
    images = IMAGES / 255.0
    out = _np(layer(images, training=True))
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out, images)


def test_rand_augment_with_no_ops_only_casts():
    layer = layers.RandAugment(num_ops=0, seed=1)
    out = layer(IMAGES.astype("float64"), training=True)
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(_np(out), IMAGES)


def test_single_images_are_transformed_like_a_batch_of_one():
    for name, kwargs in NEW_LAYERS:
        out = getattr(layers, name)(**kwargs)(IMAGES[0], training=True)
        assert tuple(out.shape) == IMAGES[0].shape, name


# --- config, symbolic build, errors ------------------------------------------


@pytest.mark.parametrize("name, kwargs", NEW_LAYERS)
def test_config_has_keras_keys_and_values_and_rebuilds_the_layer(name, kwargs):
    k_layer, l_layer = _pair(name, kwargs)
    k_config, l_config = k_layer.get_config(), l_layer.get_config()
    assert set(l_config) == set(k_config)
    for key in set(k_config) - {"name", "dtype"}:
        expected, got = k_config[key], l_config[key]
        if isinstance(expected, (tuple, list)):
            assert list(got) == list(expected), key
        else:
            assert got == expected, key
    rebuilt = type(l_layer).from_config(l_config)
    assert rebuilt.get_config() == l_config


@pytest.mark.parametrize("name, kwargs", NEW_LAYERS)
def test_symbolic_build_gives_keras_output_shape(name, kwargs):
    outputs = getattr(layers, name)(**kwargs)(lamina.Input(shape=(6, 7, 3)))
    k_outputs = getattr(keras.layers, name)(**kwargs)(keras.Input(shape=(6, 7, 3)))
    assert tuple(outputs.shape) == tuple(k_outputs.shape) == (None, 6, 7, 3)


def test_layers_are_exported_under_their_keras_names():
    for name, _ in NEW_LAYERS:
        assert name in layers.__all__ and hasattr(keras.layers, name)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (
            lambda: layers.RandomPerspective(scale=1.5),
            ValueError,
            "scale.*got scale=1.5",
        ),
        (
            lambda: layers.RandomPerspective(factor=2.0),
            ValueError,
            "factor.*got factor=2.0",
        ),
        (
            lambda: layers.RandomPerspective(interpolation="cubic"),
            NotImplementedError,
            "interpolation='cubic'",
        ),
        (
            lambda: layers.RandomElasticTransform(fill_mode="edge"),
            NotImplementedError,
            "fill_mode='edge'",
        ),
        (
            lambda: layers.RandomElasticTransform(scale=(0.2, 1.4)),
            ValueError,
            "scale.*got scale=",
        ),
        (
            lambda: layers.ContrastLimitedAdaptiveHistogramEqualization(
                tile_grid_size=8
            ),
            ValueError,
            "tile_grid_size.*pair of positive ints",
        ),
        (
            lambda: layers.ContrastLimitedAdaptiveHistogramEqualization(
                value_range=255
            ),
            ValueError,
            "value_range",
        ),
        (
            lambda: layers.AugMix(num_chains=0),
            ValueError,
            "num_chains.*got num_chains=0",
        ),
        (lambda: layers.AugMix(alpha=-1.0), ValueError, "alpha.*got alpha=-1.0"),
        (
            lambda: layers.RandAugment(num_ops=1.5),
            ValueError,
            "num_ops.*got num_ops=1.5",
        ),
        (lambda: layers.RandAugment(factor=3.0), ValueError, "factor.*got factor=3.0"),
        (
            lambda: layers.RandAugment(interpolation="area"),
            NotImplementedError,
            "interpolation='area'",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_rank_two_inputs_are_rejected_with_the_layer_name():
    layer = layers.RandomPerspective(name="persp")
    with pytest.raises(ValueError, match="'persp'.*RandomPerspective.*rank"):
        layer(np.zeros((4, 4), "float32"), training=True)
