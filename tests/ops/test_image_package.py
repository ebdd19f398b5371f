"""`lamina.ops.image` as a package: the same public names, the same saved
configs for functional models built from image ops, and the `Resizing` layer
with every interpolation `ops.image.resize` accepts."""

import json
import os
import zipfile

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, ops

os.environ.setdefault("KERAS_BACKEND", "torch")

PUBLIC_NAMES = [
    "affine_transform",
    "crop_images",
    "extract_patches",
    "hsv_to_rgb",
    "map_coordinates",
    "pad_images",
    "resize",
    "rgb_to_grayscale",
    "rgb_to_hsv",
    "elastic_transform",
    "extract_patches_3d",
    "gaussian_blur",
    "perspective_transform",
    "scale_and_translate",
    "sobel_edges",
    "ssim",
]


def test_all_lists_the_same_public_names_in_the_same_order():
    assert list(ops.image.__all__) == PUBLIC_NAMES


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_every_public_name_is_an_op_of_the_image_package(name):
    from lamina.ops import image

    fn = getattr(image, name)
    assert fn is getattr(ops.image, name)
    assert getattr(fn, "__lamina_op__", False)
    assert fn.__name__ == name
    # OpLayer names an op's Keras module from the third part of `__module__`.
    assert fn.__module__.split(".")[:3] == ["lamina", "ops", "image"]


def test_public_names_match_keras_ops_image():
    keras = pytest.importorskip("keras")
    theirs = {n for n in dir(keras.ops.image) if not n.startswith("_")}
    assert set(PUBLIC_NAMES) <= theirs


def _image_model():
    x = lamina.Input((8, 8, 3))
    y = ops.image.resize(x, (4, 6), interpolation="nearest")
    y = ops.image.gaussian_blur(y, data_format="channels_last")
    y = ops.image.rgb_to_grayscale(y)
    y = ops.image.extract_patches(y, 2)
    return lamina.Model(x, y)


def _keras_image_model(keras):
    keras.backend.clear_session()  # default names as in a fresh session
    x = keras.Input((8, 8, 3))
    y = keras.ops.image.resize(x, (4, 6), interpolation="nearest")
    y = keras.ops.image.gaussian_blur(y, data_format="channels_last")
    y = keras.ops.image.rgb_to_grayscale(y)
    y = keras.ops.image.extract_patches(y, 2)
    return keras.Model(x, y)


def _entries(model):
    return json.loads(json.dumps(model.get_config()))["layers"][1:]


def test_image_op_nodes_are_written_as_keras_writes_them(tmp_path):
    keras = pytest.importorskip("keras")
    model = _image_model()
    assert tuple(model.outputs[0].shape) == (None, 2, 3, 4)
    ours, theirs = _entries(model), _entries(_keras_image_model(keras))
    assert [e["class_name"] for e in ours] == [
        "Resize",
        "GaussianBlur",
        "RGBToGrayscale",
        "ExtractPatches",
    ]
    for mine, keras_entry in zip(ours, theirs):
        assert mine["module"] == keras_entry["module"] == "keras.src.ops.image"
        assert mine["class_name"] == keras_entry["class_name"]
        assert mine["inbound_nodes"] == keras_entry["inbound_nodes"]
        # lamina writes the arguments given (as given: `size=2`); Keras adds
        # its defaults and spells sizes as pairs.
        for key, value in mine["config"].items():
            if key != "name":
                assert keras_entry["config"][key] in (value, [value, value]), key
    path = tmp_path / "image_ops.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        saved = json.loads(archive.read("config.json"))
    assert saved["config"]["layers"][1:] == ours


def test_image_op_models_load_both_ways_with_the_same_outputs(tmp_path):
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    ours = _image_model()
    ours.save(tmp_path / "ours.keras")
    theirs = _keras_image_model(keras)
    theirs.save(tmp_path / "theirs.keras")
    expected = ours.predict(x, verbose=0)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), expected, atol=1e-6)
    for loaded in (
        lamina.saving.load_model(tmp_path / "ours.keras"),
        lamina.saving.load_model(tmp_path / "theirs.keras"),
        keras.saving.load_model(tmp_path / "ours.keras"),
    ):
        np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)


# The Resizing layer and the shared aspect-ratio arithmetic.

RNG = np.random.default_rng(7)
IMAGES = RNG.uniform(0, 1, (2, 9, 6, 3)).astype("float32")


@pytest.mark.parametrize("interpolation", ["lanczos3", "lanczos5", "area"])
@pytest.mark.parametrize("aspect", [{}, {"crop_to_aspect_ratio": True}])
def test_resizing_layer_gives_the_ops_lanczos_and_area_results(interpolation, aspect):
    layer = layers.Resizing(4, 5, interpolation=interpolation, **aspect)
    out = layer(IMAGES)
    expected = ops.image.resize(
        IMAGES, (4, 5), interpolation, data_format="channels_last", **aspect
    )
    assert tuple(out.shape) == (2, 4, 5, 3)
    np.testing.assert_allclose(out.cpu().numpy(), expected.cpu().numpy(), rtol=1e-6)


def test_resizing_layer_area_averages_blocks_and_keeps_integer_dtype():
    x = np.arange(2 * 8 * 6, dtype="uint8").reshape(1, 8, 6, 2)
    out = layers.Resizing(4, 3, interpolation="area")(x)
    blocks = x.reshape(1, 4, 2, 3, 2, 2).astype("float64").mean(axis=(2, 4))
    assert out.dtype == torch.uint8
    np.testing.assert_array_equal(out.cpu().numpy(), np.round(blocks))


def test_resizing_layer_lanczos_channels_first_and_symbolic_shape():
    layer = layers.Resizing(
        3,
        4,
        interpolation="lanczos5",
        pad_to_aspect_ratio=True,
        fill_value=0.5,
        data_format="channels_first",
    )
    x = np.transpose(IMAGES, (0, 3, 1, 2))
    expected = ops.image.resize(
        IMAGES,
        (3, 4),
        "lanczos5",
        pad_to_aspect_ratio=True,
        fill_value=0.5,
        data_format="channels_last",
    )
    np.testing.assert_allclose(
        layer(x).cpu().numpy(),
        np.transpose(expected.cpu().numpy(), (0, 3, 1, 2)),
        rtol=1e-6,
    )
    symbolic = layer(lamina.Input((3, 9, 6)))
    assert tuple(symbolic.shape) == (None, 3, 3, 4)


@pytest.mark.parametrize("interpolation", ["lanczos3", "area"])
def test_resizing_layer_config_round_trips_the_new_interpolations(interpolation):
    layer = layers.Resizing(4, 4, interpolation=interpolation, antialias=True)
    config = layer.get_config()
    assert config["interpolation"] == interpolation
    clone = layers.Resizing.from_config(config)
    np.testing.assert_allclose(clone(IMAGES).cpu().numpy(), layer(IMAGES).cpu().numpy())


@pytest.mark.parametrize("interpolation", ["lanczos4", "cubic", None])
def test_resizing_layer_rejects_unknown_interpolations(interpolation):
    with pytest.raises(ValueError, match="Resizing expects `interpolation`.*got"):
        layers.Resizing(4, 4, interpolation=interpolation)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize(
    "shape, size, crop, expected",
    [
        # (height, width) in, target (height, width), crop?, what fit gives.
        ((9, 6), (4, 5), True, (4, 6)),
        # Keras pads int((11 - 6) / 2) = 2 columns on each side, not 11 wide.
        ((9, 6), (4, 5), False, (9, 10)),
        ((5, 7), (3, 3), True, (5, 5)),
        ((5, 7), (3, 3), False, (7, 7)),
        ((2, 9), (10, 1), True, (2, 1)),
    ],
)
def test_fit_aspect_ratio_crops_centred_or_pads_evenly(
    data_format, shape, size, crop, expected
):
    from lamina.ops.image._aspect_ratio import fit_aspect_ratio

    h, w = shape
    grid = np.arange(h * w, dtype="float32").reshape(h, w)
    x = torch.tensor(
        grid[None, :, :, None] if data_format == "channels_last" else grid[None, None]
    )
    out = fit_aspect_ratio(x, size, crop, not crop, -1.0, data_format)
    plane = out[0, :, :, 0] if data_format == "channels_last" else out[0, 0]
    assert tuple(plane.shape) == expected
    top, left = (expected[0] - h) // 2, (expected[1] - w) // 2
    if crop:
        top, left = (h - expected[0]) // 2, (w - expected[1]) // 2
        want = grid[top : top + expected[0], left : left + expected[1]]
    else:
        want = np.pad(grid, ((top, top), (left, left)), constant_values=-1.0)
    np.testing.assert_array_equal(plane.numpy(), want)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("aspect", ["crop_to_aspect_ratio", "pad_to_aspect_ratio"])
def test_resizing_layer_aspect_ratio_matches_keras(interpolation, aspect):
    keras = pytest.importorskip("keras")
    kwargs = {"interpolation": interpolation, aspect: True}
    ours = layers.Resizing(4, 5, **kwargs)(IMAGES)
    theirs = keras.layers.Resizing(4, 5, **kwargs)(IMAGES)
    np.testing.assert_allclose(
        ours.cpu().numpy(), keras.ops.convert_to_numpy(theirs), rtol=1e-5, atol=1e-6
    )
