"""Image layers on Keras's dict inputs: images, labels, bounding boxes and
segmentation masks moved by one random draw."""

import copy
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")

from lamina import layers  # noqa: E402
from lamina.layers.preprocessing._base_image_layer import (  # noqa: E402
    BaseImagePreprocessingLayer,
)
from lamina.utils import bounding_boxes as bbox_utils  # noqa: E402

FORMATS = ("xyxy", "rel_xyxy", "center_xywh", "yxyx")
DATA_FORMATS = ("channels_last", "channels_first")
XYXY = np.array(
    [[1, 2, 6, 9], [8, 3, 15, 11], [0, 0, 0, 0], [-3, 4, 2, 20]], dtype="float32"
)


def _data(batch=3, height=12, width=16, fmt="xyxy", data_format="channels_last"):
    rng = np.random.RandomState(0)
    images = rng.rand(batch, height, width, 3).astype("float32")
    masks = rng.randint(0, 4, (batch, height, width, 1)).astype("uint8")
    if data_format == "channels_first":
        images, masks = images.transpose(0, 3, 1, 2), masks.transpose(0, 3, 1, 2)
    boxes = bbox_utils.convert_format(
        np.stack([XYXY] * batch), "xyxy", fmt, height=height, width=width
    )
    return {
        "images": images,
        "labels": np.arange(batch),
        "bounding_boxes": {
            "boxes": boxes.cpu().numpy(),
            "labels": np.tile(np.array([1, 2, 3, 4]), (batch, 1)),
        },
        "segmentation_masks": masks,
    }


def _np(x):
    return (
        np.asarray(x.detach().cpu()) if isinstance(x, torch.Tensor) else np.asarray(x)
    )


def _parts(outputs):
    return {
        "images": outputs["images"],
        "labels": outputs["labels"],
        "masks": outputs["segmentation_masks"],
        "boxes": outputs["bounding_boxes"]["boxes"],
        "box_labels": outputs["bounding_boxes"]["labels"],
    }


def _assert_same(lamina_out, keras_out, skip=(), atol=1e-4):
    ours, theirs = _parts(lamina_out), _parts(keras_out)
    for key in ours:
        if key in skip:
            continue
        a, b = _np(ours[key]), np.asarray(theirs[key].detach().cpu())
        assert a.shape == b.shape, (key, a.shape, b.shape)
        assert a.dtype == b.dtype, (key, a.dtype, b.dtype)
        np.testing.assert_allclose(a, b, atol=atol, err_msg=key)


def _both(name, kwargs, fmt, data_format, data, training=True):
    keras = pytest.importorskip("keras")
    args = dict(bounding_box_format=fmt, data_format=data_format, **kwargs)
    ours = getattr(layers, name)(**args)(copy.deepcopy(data), training=training)
    theirs = getattr(keras.layers, name)(**args)(copy.deepcopy(data), training=training)
    return ours, theirs


PARITY_CASES = [
    ("RandomFlip", {"mode": "horizontal", "seed": 1}),
    ("RandomFlip", {"mode": "vertical", "seed": 2}),
    ("RandomFlip", {"mode": "horizontal_and_vertical", "seed": 3}),
    (
        "RandomTranslation",
        {"height_factor": 0.2, "width_factor": (-0.3, 0.1), "seed": 3},
    ),
    ("RandomZoom", {"height_factor": 0.3, "seed": 3}),
    ("RandomZoom", {"height_factor": (-0.3, -0.1), "width_factor": 0.4, "seed": 4}),
    ("RandomShear", {"x_factor": 0.2, "y_factor": 0.3, "seed": 3}),
    ("Resizing", {"height": 6, "width": 10}),
    ("Resizing", {"height": 6, "width": 10, "pad_to_aspect_ratio": True}),
    ("Resizing", {"height": 10, "width": 6, "pad_to_aspect_ratio": True}),
    ("Resizing", {"height": 6, "width": 10, "crop_to_aspect_ratio": True}),
    ("Resizing", {"height": 10, "width": 6, "crop_to_aspect_ratio": True}),
    ("CenterCrop", {"height": 8, "width": 10}),
]


@pytest.mark.parametrize("data_format", DATA_FORMATS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name, kwargs", PARITY_CASES)
def test_every_part_matches_keras(name, kwargs, fmt, data_format):
    data = _data(fmt=fmt, data_format=data_format)
    ours, theirs = _both(name, kwargs, fmt, data_format, data)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomFlip", {"mode": "horizontal", "seed": 1}),
        (
            "RandomTranslation",
            {"height_factor": (0.25, 0.25), "width_factor": (-0.25, -0.25)},
        ),
        ("Resizing", {"height": 6, "width": 10, "pad_to_aspect_ratio": True}),
        ("CenterCrop", {"height": 8, "width": 10}),
    ],
)
def test_one_image_without_batch_axis_matches_keras(name, kwargs, fmt):
    batch = _data(batch=1, fmt=fmt)
    single = {
        "images": batch["images"][0],
        "labels": batch["labels"][0],
        "bounding_boxes": {k: v[0] for k, v in batch["bounding_boxes"].items()},
        "segmentation_masks": batch["segmentation_masks"][0],
    }
    ours, theirs = _both(name, kwargs, fmt, "channels_last", single)
    assert tuple(ours["bounding_boxes"]["boxes"].shape) == (4, 4)
    assert tuple(ours["bounding_boxes"]["labels"].shape) == (4,)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("fmt", ("xyxy", "rel_xyxy"))
def test_small_image_center_crop_matches_keras_boxes_and_uses_nearest_masks(fmt):
    data = _data(fmt=fmt)
    ours, theirs = _both("CenterCrop", {"height": 20, "width": 10}, fmt, None, data)
    # Keras resizes the masks bilinearly here; lamina keeps class ids.
    _assert_same(ours, theirs, skip=("masks",))
    masks = _np(ours["segmentation_masks"])
    assert masks.dtype == np.float32 and masks.shape == (3, 20, 10, 1)
    assert set(np.unique(masks)) <= {0.0, 1.0, 2.0, 3.0}


def test_rotation_matches_keras_and_warps_masks_like_nearest_images():
    keras = pytest.importorskip("keras")
    data = _data()
    ours, theirs = _both(
        "RandomRotation", {"factor": 0.1, "seed": 3}, "xyxy", None, data
    )
    # Keras's torch affine_transform swaps entries of the stored rotation
    # matrix in place, so its masks are warped by a transposed matrix;
    # compare with its image path at nearest interpolation instead.
    _assert_same(ours, theirs, skip=("masks",))
    reference = keras.layers.RandomRotation(0.1, seed=3, interpolation="nearest")
    expected = reference(data["segmentation_masks"].astype("float32"), training=True)
    masks = ours["segmentation_masks"]
    assert masks.dtype == torch.uint8
    np.testing.assert_array_equal(_np(masks), _np(expected).astype("uint8"))


@pytest.mark.parametrize("fmt", ("rel_xyxy", "center_xywh", "yxyx"))
def test_rotation_converts_other_formats_before_moving_boxes(fmt):
    data_xyxy, data_fmt = _data(), _data(fmt=fmt)
    xyxy = layers.RandomRotation(0.1, seed=5, bounding_box_format="xyxy")(data_xyxy)
    other = layers.RandomRotation(0.1, seed=5, bounding_box_format=fmt)(data_fmt)
    expected = bbox_utils.convert_format(
        xyxy["bounding_boxes"]["boxes"], "xyxy", fmt, height=12, width=16
    )
    np.testing.assert_allclose(
        _np(other["bounding_boxes"]["boxes"]), _np(expected), atol=1e-4
    )
    np.testing.assert_array_equal(
        _np(other["bounding_boxes"]["labels"]), _np(xyxy["bounding_boxes"]["labels"])
    )


def test_random_crop_moves_boxes_and_masks_with_the_window():
    data = _data(batch=2, height=10, width=12)
    data["segmentation_masks"] = np.broadcast_to(
        np.arange(120, dtype="uint8").reshape(1, 10, 12, 1), (2, 10, 12, 1)
    ).copy()
    layer = layers.RandomCrop(6, 8, seed=7, bounding_box_format="xyxy")
    window = layers.RandomCrop(6, 8, seed=7).get_random_transformation(
        torch.zeros(2, 10, 12, 3), training=True
    )
    top, left = window["start"]
    out = layer(data, training=True)
    masks = _np(out["segmentation_masks"])
    np.testing.assert_array_equal(
        masks[0, :, :, 0],
        np.arange(120).reshape(10, 12)[top : top + 6, left : left + 8],
    )
    expected = XYXY - np.array([left, top, left, top], dtype="float32")
    expected = np.clip(expected, 0, [8, 6, 8, 6])
    np.testing.assert_allclose(_np(out["bounding_boxes"]["boxes"])[0], expected)
    areas = (expected[:, 2] - expected[:, 0]) * (expected[:, 3] - expected[:, 1])
    np.testing.assert_array_equal(
        _np(out["bounding_boxes"]["labels"])[0], np.where(areas > 0, [1, 2, 3, 4], -1)
    )


def test_random_crop_at_inference_scales_boxes_with_the_resized_window():
    data = _data(batch=1, height=12, width=16)
    layer = layers.RandomCrop(6, 6, bounding_box_format="xyxy")
    out = layer(data, training=False)
    # The central 12 x 12 window (columns 2..14), resized by one half.
    expected = np.clip(XYXY - np.array([2, 0, 2, 0]), 0, [12, 12, 12, 12]) / 2
    np.testing.assert_allclose(_np(out["bounding_boxes"]["boxes"])[0], expected)
    assert tuple(out["segmentation_masks"].shape) == (1, 6, 6, 1)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomFlip", {"seed": 1}),
        ("RandomZoom", {"height_factor": 0.3, "seed": 1}),
        ("RandomTranslation", {"height_factor": 0.3, "width_factor": 0.3, "seed": 1}),
        ("RandomShear", {"x_factor": 0.3, "y_factor": 0.3, "seed": 1}),
        ("RandomRotation", {"factor": 0.2, "seed": 1}),
    ],
)
def test_one_draw_moves_images_and_masks_alike(name, kwargs):
    if name != "RandomFlip":
        kwargs = {**kwargs, "interpolation": "nearest"}
    masks = np.random.RandomState(1).randint(0, 5, (4, 9, 11, 1))
    data = {"images": masks.astype("float32"), "segmentation_masks": masks}
    out = getattr(layers, name)(**kwargs)(data, training=True)
    assert not np.array_equal(_np(out["images"]), masks)
    np.testing.assert_array_equal(
        _np(out["images"]), _np(out["segmentation_masks"]).astype("float32")
    )


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomFlip", {"seed": 1}),
        ("RandomTranslation", {"height_factor": 0.3, "width_factor": 0.3}),
        ("RandomZoom", {"height_factor": 0.3}),
        ("RandomRotation", {"factor": 0.2}),
        ("RandomShear", {"x_factor": 0.3}),
    ],
)
def test_inference_leaves_every_part_in_place_as_keras_does(name, kwargs):
    data = _data(fmt="center_xywh")
    ours, theirs = _both(name, kwargs, "center_xywh", None, data, training=False)
    _assert_same(ours, theirs)
    np.testing.assert_allclose(
        _np(ours["bounding_boxes"]["boxes"]), data["bounding_boxes"]["boxes"]
    )


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomBrightness", {"factor": 0.3, "seed": 1}),
        ("RandomContrast", {"factor": 0.3, "seed": 1}),
        ("RandomSaturation", {"factor": 0.5, "seed": 1}),
        ("Solarization", {"addition_factor": 0.2, "threshold_factor": 0.5, "seed": 1}),
    ],
)
def test_colour_layers_pass_labels_boxes_and_masks_through(name, kwargs):
    data = _data(fmt="xywh")
    data["images"] = data["images"] * 255
    ours, theirs = _both(name, kwargs, "xywh", None, data)
    _assert_same(ours, theirs, skip=("images",))
    np.testing.assert_array_equal(
        _np(ours["segmentation_masks"]), data["segmentation_masks"]
    )


def test_input_dict_is_left_as_it_was():
    data = _data()
    before = copy.deepcopy(data)
    layers.RandomFlip("horizontal", seed=1, bounding_box_format="xyxy")(data)
    np.testing.assert_array_equal(
        data["bounding_boxes"]["boxes"], before["bounding_boxes"]["boxes"]
    )
    assert data["images"] is not None and data.keys() == before.keys()


def test_dict_without_boxes_or_masks_needs_no_box_format():
    images = np.random.RandomState(0).rand(2, 8, 8, 3).astype("float32")
    out = layers.RandomFlip("horizontal", seed=1)({"images": images, "labels": [0, 1]})
    assert set(out) == {"images", "labels"}
    expected = layers.RandomFlip("horizontal", seed=1)(images)
    np.testing.assert_array_equal(_np(out["images"]), _np(expected))


def test_batch_of_box_lists_of_unequal_length_is_padded():
    images = np.zeros((2, 10, 10, 3), dtype="float32")
    boxes = {
        "boxes": [[[1, 1, 4, 4]], [[2, 2, 5, 5], [0, 1, 3, 3]]],
        "labels": [[7], [8, 9]],
    }
    layer = layers.Resizing(5, 5, bounding_box_format="xyxy")
    out = layer({"images": images, "bounding_boxes": boxes})["bounding_boxes"]
    np.testing.assert_allclose(
        _np(out["boxes"]),
        [[[0.5, 0.5, 2, 2], [0, 0, 0, 0]], [[1, 1, 2.5, 2.5], [0, 0.5, 1.5, 1.5]]],
    )
    np.testing.assert_array_equal(_np(out["labels"]), [[7, -1], [8, 9]])


def test_boxes_without_a_box_format_raise_like_keras():
    keras = pytest.importorskip("keras")
    data = _data()
    with pytest.raises(ValueError, match="bounding_box_format"):
        layers.RandomFlip()(copy.deepcopy(data))
    with pytest.raises(ValueError, match="bounding box format"):
        keras.layers.RandomFlip()(copy.deepcopy(data))


@pytest.mark.parametrize(
    "data, match",
    [
        ({"labels": np.zeros(2)}, "'images' entry"),
        ({"images": np.zeros((8, 8))}, "rank 4"),
        (
            {
                "images": np.zeros((2, 8, 8, 3)),
                "bounding_boxes": {"boxes": np.zeros((2, 4))},
            },
            "'boxes' and 'labels'",
        ),
        (
            {
                "images": np.zeros((2, 8, 8, 3)),
                "bounding_boxes": {"boxes": np.zeros((2, 3)), "labels": np.zeros(2)},
            },
            r"\(batch, num_boxes, 4\)",
        ),
    ],
)
def test_malformed_dicts_raise_clear_errors(data, match):
    with pytest.raises(ValueError, match=match):
        layers.RandomFlip(bounding_box_format="xyxy")(data)


@pytest.mark.parametrize(
    "make, part",
    [
        (lambda fmt: layers.CutMix(bounding_box_format=fmt, seed=1), "bounding_boxes"),
        (
            lambda fmt: layers.RandomElasticTransform(bounding_box_format=fmt, seed=1),
            "bounding_boxes",
        ),
    ],
)
def test_layers_keras_cannot_apply_to_boxes_raise_not_implemented(make, part):
    keras = pytest.importorskip("keras")
    data = _data()
    data = {"images": data["images"], part: data[part]}
    with pytest.raises(NotImplementedError, match="Keras 3 does not either"):
        make("xyxy")(copy.deepcopy(data), training=True)
    name = type(make("xyxy")).__name__
    with pytest.raises(NotImplementedError):
        getattr(keras.layers, name)(bounding_box_format="xyxy", seed=1)(
            copy.deepcopy(data), training=True
        )


def test_clahe_raises_for_every_part_but_images_as_keras_does():
    data = _data()
    layer = layers.ContrastLimitedAdaptiveHistogramEqualization(value_range=(0, 1))
    for part in ("labels", "segmentation_masks"):
        with pytest.raises(NotImplementedError, match="Keras 3 does not either"):
            layer({"images": data["images"], part: data[part]})


def test_custom_subclass_without_box_support_raises_as_keras_base_does():
    class Shift(BaseImagePreprocessingLayer):
        _USE_BASE_FACTOR = False

        def get_random_transformation(self, data, training=True, seed=None):
            return {"shift": 1}

        def _transform_images(self, images, transformation):
            return torch.roll(images, transformation["shift"], dims=2)

    data = _data()
    masks = Shift()(
        {"images": data["images"], "segmentation_masks": data["segmentation_masks"]}
    )
    np.testing.assert_array_equal(
        _np(masks["segmentation_masks"]), np.roll(data["segmentation_masks"], 1, axis=2)
    )
    with pytest.raises(NotImplementedError, match="transform_bounding_boxes"):
        Shift(bounding_box_format="xyxy")(data)


@pytest.mark.parametrize(
    "layer, images, masks",
    [
        (layers.RandomFlip(bounding_box_format="xyxy"), (8, 8, 3), (8, 8, 1)),
        (layers.Resizing(4, 5, bounding_box_format="xyxy"), (4, 5, 3), (4, 5, 1)),
        (layers.CenterCrop(4, 5, bounding_box_format="xyxy"), (4, 5, 3), (4, 5, 1)),
        (layers.RandomCrop(4, 5, bounding_box_format="xyxy"), (4, 5, 3), (4, 5, 1)),
        (
            layers.Resizing(4, 5, data_format="channels_first"),
            (3, 4, 5),
            (1, 4, 5),
        ),
    ],
)
def test_symbolic_dicts_get_the_output_shapes_of_each_part(layer, images, masks):
    from lamina import Input

    channels_first = layer.data_format == "channels_first"
    inputs = {
        "images": Input((3, 8, 8) if channels_first else (8, 8, 3)),
        "segmentation_masks": Input((1, 8, 8) if channels_first else (8, 8, 1)),
        "bounding_boxes": {"boxes": Input((3, 4)), "labels": Input((3,))},
    }
    outputs = layer(inputs)
    assert tuple(outputs["images"].shape) == (None, *images)
    assert tuple(outputs["segmentation_masks"].shape) == (None, *masks)
    assert tuple(outputs["bounding_boxes"]["boxes"].shape) == (None, 3, 4)
    assert tuple(outputs["bounding_boxes"]["labels"].shape) == (None, 3)


def test_pipeline_carries_dicts_through_its_layers():
    data = _data(batch=2, fmt="xyxy")
    pipeline = layers.Pipeline(
        [
            layers.RandomFlip("horizontal", seed=1, bounding_box_format="xyxy"),
            layers.Resizing(6, 8, bounding_box_format="xyxy"),
        ]
    )
    out = pipeline(copy.deepcopy(data))
    flipped = layers.RandomFlip("horizontal", seed=1, bounding_box_format="xyxy")(
        copy.deepcopy(data)
    )
    boxes = _np(flipped["bounding_boxes"]["boxes"])
    expected = np.clip(boxes / 2, 0, [8, 6, 8, 6])
    expected[(boxes == 0).all(-1)] = 0.0  # Keras: padding boxes stay zeros
    np.testing.assert_allclose(_np(out["bounding_boxes"]["boxes"]), expected)
    assert tuple(out["segmentation_masks"].shape) == (2, 6, 8, 1)
