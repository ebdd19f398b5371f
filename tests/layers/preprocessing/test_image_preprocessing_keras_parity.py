import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.layers.preprocessing.center_crop import CenterCrop  # noqa: E402
from lamina.layers.preprocessing.random_contrast import RandomContrast  # noqa: E402
from lamina.layers.preprocessing.random_flip import RandomFlip  # noqa: E402
from lamina.layers.preprocessing.random_rotation import RandomRotation  # noqa: E402
from lamina.layers.preprocessing.random_translation import RandomTranslation  # noqa: E402
from lamina.layers.preprocessing.random_zoom import RandomZoom  # noqa: E402
from lamina.layers.preprocessing.rescaling import Rescaling  # noqa: E402
from lamina.layers.preprocessing.resizing import Resizing  # noqa: E402

IMAGES = np.random.default_rng(4).uniform(0, 1, size=(3, 7, 9, 2)).astype("float32")
L = keras.layers


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _assert_same_config(k_layer, l_layer):
    k_config, l_config = k_layer.get_config(), l_layer.get_config()
    assert set(k_config) == set(l_config)
    for key in set(k_config) - {"name", "dtype"}:
        assert l_config[key] == k_config[key], key


RANDOM_CASES = [
    (L.RandomFlip, RandomFlip, {"seed": 3}),
    (L.RandomFlip, RandomFlip, {"mode": "vertical", "seed": 3}),
    (L.RandomRotation, RandomRotation, {"factor": 0.2, "seed": 5}),
    (
        L.RandomRotation,
        RandomRotation,
        {"factor": (-0.3, 0.1), "fill_mode": "constant", "fill_value": 0.5, "seed": 5},
    ),
    (
        L.RandomRotation,
        RandomRotation,
        {"factor": 0.5, "fill_mode": "wrap", "interpolation": "nearest", "seed": 5},
    ),
    (
        L.RandomRotation,
        RandomRotation,
        {"factor": 0.4, "fill_mode": "nearest", "seed": 5},
    ),
    (L.RandomZoom, RandomZoom, {"height_factor": 0.5, "seed": 2}),
    (
        L.RandomZoom,
        RandomZoom,
        {
            "height_factor": (-0.5, 0.3),
            "width_factor": (0.2, 0.6),
            "fill_mode": "constant",
            "seed": 2,
        },
    ),
    (
        L.RandomTranslation,
        RandomTranslation,
        {"height_factor": 0.5, "width_factor": 0.3, "seed": 9},
    ),
    (
        L.RandomTranslation,
        RandomTranslation,
        {
            "height_factor": 0.5,
            "width_factor": (-0.2, 0.4),
            "fill_mode": "wrap",
            "seed": 9,
        },
    ),
    (
        L.RandomContrast,
        RandomContrast,
        {"factor": 0.5, "value_range": (0, 1), "seed": 4},
    ),
]


@pytest.mark.parametrize("k_cls, l_cls, kwargs", RANDOM_CASES)
def test_seeded_random_layers_match_keras_draw_for_draw(k_cls, l_cls, kwargs):
    # Seeded draws use Keras's torch-backend generator scheme, so even the
    # random parameters agree; two calls check that the generators advance alike.
    k_layer, l_layer = k_cls(**kwargs), l_cls(**kwargs)
    for images in (IMAGES, IMAGES, IMAGES[0]):
        np.testing.assert_allclose(
            _np(l_layer(images, training=True)),
            _np(k_layer(images, training=True)),
            rtol=1e-5,
            atol=1e-5,
        )
    np.testing.assert_array_equal(_np(l_layer(IMAGES, training=False)), IMAGES)
    _assert_same_config(k_layer, l_layer)


def test_geometry_matches_keras_for_given_transformations():
    # Images and parameters on Keras's device (CUDA where there is one), as
    # the tensors its ops make: Keras does not move given parameters there.
    def tensor(x):
        return keras.ops.convert_to_tensor(x, dtype="float32")

    angle = tensor([10.0, -75.0, 180.0])
    k_rot, l_rot = L.RandomRotation(0.5, fill_mode="reflect"), RandomRotation(0.5)
    k_params = k_rot.get_random_transformation(IMAGES, training=True)
    k_params["angle"] = angle
    k_params["rotation_matrix"] = k_rot._compute_affine_matrix(
        0.5,
        0.5,
        angle,
        tensor(np.zeros(3)),
        tensor(np.zeros(3)),
        tensor(np.ones(3)),
        tensor(np.zeros(3)),
        tensor(np.zeros(3)),
        7,
        9,
    )
    l_params = {"rotation_matrix": k_params["rotation_matrix"].clone()}
    np.testing.assert_allclose(
        _np(l_rot.transform_images(tensor(IMAGES), l_params)),
        _np(k_rot.transform_images(tensor(IMAGES), k_params)),
        rtol=1e-5,
        atol=1e-5,
    )
    zoom = {
        "height_zoom": tensor([[0.5], [1.0], [1.7]]),
        "width_zoom": tensor([[1.2], [0.8], [1.0]]),
        "input_shape": IMAGES.shape,
    }
    k_zoom, l_zoom = (
        L.RandomZoom(0.5, fill_mode="constant"),
        RandomZoom(0.5, fill_mode="constant"),
    )
    np.testing.assert_allclose(
        _np(l_zoom.transform_images(tensor(IMAGES), zoom)),
        _np(k_zoom.transform_images(tensor(IMAGES), zoom)),
        rtol=1e-5,
        atol=1e-5,
    )


RESIZE_CASES = [
    {"height": 4, "width": 5},
    {"height": 11, "width": 4, "interpolation": "nearest"},
    {"height": 5, "width": 6, "interpolation": "bicubic"},
    {"height": 4, "width": 4, "crop_to_aspect_ratio": True},
    {"height": 4, "width": 4, "pad_to_aspect_ratio": True, "fill_value": 3.0},
    {"height": 3, "width": 4, "antialias": True},
    {"height": 4, "width": 3, "data_format": "channels_first"},
]


@pytest.mark.parametrize("kwargs", RESIZE_CASES)
def test_resizing_matches_keras(kwargs):
    k_layer, l_layer = L.Resizing(**kwargs), Resizing(**kwargs)
    for images in (IMAGES, IMAGES[0], (IMAGES * 255).astype("uint8")):
        expected = k_layer(images)
        got = l_layer(images)
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(_np(got), _np(expected), rtol=1e-5, atol=1e-5)
    _assert_same_config(k_layer, l_layer)


@pytest.mark.parametrize("size", [(4, 5), (7, 9), (8, 4), (3, 12)])
def test_center_crop_matches_keras(size):
    k_layer, l_layer = L.CenterCrop(*size), CenterCrop(*size)
    for images in (IMAGES, IMAGES[0]):
        np.testing.assert_allclose(
            _np(l_layer(images)), _np(k_layer(images)), rtol=1e-5, atol=1e-5
        )
    _assert_same_config(k_layer, l_layer)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scale": 1 / 255.0},
        {"scale": 2.0, "offset": -1.0},
        {"scale": np.array([1.0, 2.0])},
    ],
)
def test_rescaling_matches_keras(kwargs):
    k_layer, l_layer = L.Rescaling(**kwargs), Rescaling(**kwargs)
    for images in (IMAGES, (IMAGES * 255).astype("uint8")):
        np.testing.assert_allclose(
            _np(l_layer(images)), _np(k_layer(images)), rtol=1e-6
        )
    assert str(l_layer.get_config()["scale"]) == str(k_layer.get_config()["scale"])
