"""Regression tests for differences found by running Keras 3's own
preprocessing-layer tests against lamina (session 9, helper-94)."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _batch_with_shared_boxes():
    rng = np.random.default_rng(0)
    return {
        "images": rng.random((2, 4, 5, 3)).astype("float32"),
        "labels": rng.random((2, 7)).astype("float32"),
        "bounding_boxes": {
            "boxes": np.array([[1.0, 2.0, 2.0, 3.0]]),
            "labels": np.array([0]),
        },
    }


# --- boxes given once for a whole batch of images -----------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.layers.RandomBrightness(0.1, bounding_box_format="xyxy"),
        lambda m: m.layers.RandomContrast(0.1, bounding_box_format="xyxy"),
        lambda m: m.layers.Resizing(8, 10, bounding_box_format="xyxy"),
        lambda m: m.layers.CenterCrop(3, 3, bounding_box_format="xyxy"),
    ],
    ids=["brightness", "contrast", "resizing", "center_crop"],
)
def test_shared_boxes_stay_one_set_when_every_image_moves_alike(make):
    keras = pytest.importorskip("keras")
    ours = make(lamina)(_batch_with_shared_boxes(), training=True)
    theirs = make(keras)(_batch_with_shared_boxes(), training=True)
    for key in ("boxes", "labels"):
        assert tuple(ours["bounding_boxes"][key].shape) == tuple(
            theirs["bounding_boxes"][key].shape
        )
        np.testing.assert_allclose(
            _np(ours["bounding_boxes"][key]), _np(theirs["bounding_boxes"][key])
        )


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.RandomFlip(bounding_box_format="xyxy", seed=1),
        lambda: layers.RandomRotation(0.2, bounding_box_format="xyxy", seed=1),
        lambda: layers.RandomZoom(0.2, bounding_box_format="xyxy", seed=1),
        lambda: layers.MixUp(bounding_box_format="xyxy", seed=1),
    ],
    ids=["flip", "rotation", "zoom", "mix_up"],
)
def test_shared_boxes_pass_through_unchanged_at_inference(make):
    out = make()(_batch_with_shared_boxes(), training=False)
    np.testing.assert_allclose(_np(out["bounding_boxes"]["boxes"]), [[1, 2, 2, 3]])
    assert _np(out["bounding_boxes"]["labels"]).tolist() == [0]


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.RandomFlip(bounding_box_format="xyxy", seed=3),
        lambda: layers.RandomTranslation(0.3, 0.3, bounding_box_format="xyxy", seed=3),
        lambda: layers.RandomShear(0.3, 0.3, bounding_box_format="xyxy", seed=3),
    ],
    ids=["flip", "translation", "shear"],
)
def test_shared_boxes_become_one_set_per_image_when_images_move_apart(make):
    shared = _batch_with_shared_boxes()
    repeated = _batch_with_shared_boxes()
    repeated["bounding_boxes"] = {
        "boxes": np.repeat(shared["bounding_boxes"]["boxes"][None], 2, axis=0),
        "labels": np.repeat(shared["bounding_boxes"]["labels"][None], 2, axis=0),
    }
    out = make()(shared, training=True)["bounding_boxes"]
    expected = make()(repeated, training=True)["bounding_boxes"]
    assert tuple(out["boxes"].shape) == (2, 1, 4)
    assert tuple(out["labels"].shape) == (2, 1)
    np.testing.assert_allclose(_np(out["boxes"]), _np(expected["boxes"]))
    np.testing.assert_array_equal(_np(out["labels"]), _np(expected["labels"]))


def test_shared_boxes_given_as_python_lists():
    data = _batch_with_shared_boxes()
    data["bounding_boxes"] = {"boxes": [[1.0, 2.0, 2.0, 3.0]], "labels": [0]}
    out = layers.Resizing(8, 10, bounding_box_format="xyxy")(data)
    np.testing.assert_allclose(_np(out["bounding_boxes"]["boxes"]), [[2, 4, 4, 6]])


def test_max_num_bounding_boxes_pads_shared_boxes_as_one_set():
    data = _batch_with_shared_boxes()
    out = layers.MaxNumBoundingBoxes(3, bounding_box_format="xyxy")(data)
    boxes, labels = out["bounding_boxes"]["boxes"], out["bounding_boxes"]["labels"]
    assert tuple(boxes.shape) == (3, 4)
    np.testing.assert_allclose(_np(boxes)[0], [1, 2, 2, 3])
    assert _np(labels).tolist() == [0, -1, -1]


def test_boxes_of_the_wrong_width_still_raise():
    data = _batch_with_shared_boxes()
    data["bounding_boxes"] = {"boxes": np.zeros((2, 3)), "labels": np.zeros(2)}
    with pytest.raises(ValueError, match=r"\(batch, num_boxes, 4\).*got shape"):
        layers.RandomFlip(bounding_box_format="xyxy")(data)


# --- transform_* methods called directly, as Keras's tests do -----------------


def test_transform_images_of_one_image_returns_one_image():
    keras = pytest.importorskip("keras")
    transformation = {
        "apply_perspective": np.array([True]),
        "start_points": np.array([[[0.0, 0.0], [3.0, 0.0], [0.0, 3.0], [3.0, 3.0]]]),
        "end_points": np.array([[[0.0, 0.0], [1, 0.0], [0.0, 1], [1, 1]]]),
        "input_shape": np.array((4, 4, 1)),
    }
    image = np.ones((4, 4, 1), "float32")
    ours = layers.RandomPerspective().transform_images(image, transformation)
    theirs = keras.layers.RandomPerspective().transform_images(image, transformation)
    assert tuple(ours.shape) == (4, 4, 1)
    np.testing.assert_allclose(_np(ours), _np(theirs), atol=1e-4)


@pytest.mark.parametrize(
    "make", [lambda m: m.layers.RandomRotation(0.3, seed=2)], ids=["rotation"]
)
def test_transform_images_of_one_image_equals_a_batch_of_one(make):
    layer = make(lamina)
    image = np.random.default_rng(1).random((6, 5, 3)).astype("float32")
    transformation = layer.get_random_transformation(image[None], training=True)
    one = layer.transform_images(image, transformation)
    batch = layer.transform_images(image[None], transformation)
    assert tuple(one.shape) == (6, 5, 3)
    np.testing.assert_allclose(_np(one), _np(batch)[0])


def test_mix_up_transform_images_takes_plain_numbers():
    keras = pytest.importorskip("keras")
    images = np.random.default_rng(2).random((4, 5, 5, 3)).astype("float32")
    transformation = {"mix_weight": 0.2, "permutation_order": [1, 0, 2, 3]}
    ours = layers.MixUp().transform_images(images, transformation)
    theirs = keras.layers.MixUp().transform_images(images, transformation)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6)
    labels = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    ours = layers.MixUp().transform_labels(labels, transformation)
    np.testing.assert_allclose(_np(ours), 0.2 * labels + 0.8 * labels[[1, 0, 2, 3]])


def test_random_erasing_transform_images_takes_a_plain_fill_value():
    keras = pytest.importorskip("keras")
    images = np.ones((1, 2, 2, 1), "float32")
    transformation = {
        "apply_erasing": np.asarray([True]),
        "batch_masks": np.asarray([[[[True], [False]], [[False], [False]]]]),
        "fill_value": 0,
    }
    ours = layers.RandomErasing().transform_images(images, transformation)
    theirs = keras.layers.RandomErasing().transform_images(images, transformation)
    np.testing.assert_allclose(_np(ours), _np(theirs))
    np.testing.assert_allclose(_np(ours)[0, :, :, 0], [[0, 1], [1, 1]])


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_random_flip_moves_one_images_boxes(mode):
    keras = pytest.importorskip("keras")
    boxes = {"boxes": np.array([[2.0, 1, 4, 3], [6, 4, 8, 6]]), "labels": [[1, 2]]}
    transformation = {"flips": np.asarray([[True]]), "input_shape": (10, 8, 3)}
    ours = layers.RandomFlip(mode, bounding_box_format="xyxy").transform_bounding_boxes(
        dict(boxes, labels=np.array([[1, 2]])), transformation
    )
    theirs = keras.layers.RandomFlip(
        mode, bounding_box_format="xyxy"
    ).transform_bounding_boxes(dict(boxes, labels=np.array([[1, 2]])), transformation)
    assert tuple(ours["boxes"].shape) == (2, 4)
    np.testing.assert_allclose(_np(ours["boxes"]), _np(theirs["boxes"]), atol=1e-5)


# --- error messages carry Keras's key phrase ----------------------------------


@pytest.mark.parametrize(
    "build, error, keras_phrase",
    [
        (lambda: layers.CategoryEncoding(), ValueError, "num_tokens must be set"),
        (lambda: layers.CategoryEncoding(0), ValueError, "`num_tokens` must be >= 1"),
        (
            lambda: layers.Hashing(num_bins=None),
            ValueError,
            "The `num_bins` for `Hashing` cannot be `None` or non-positive",
        ),
        (
            lambda: layers.Hashing(3, output_mode="bad"),
            ValueError,
            "Invalid value for argument `output_mode`. Expected one of",
        ),
        (
            lambda: layers.Discretization(num_bins=3, bin_boundaries=[0.0, 1.0]),
            ValueError,
            "Both `num_bins` and `bin_boundaries`",
        ),
        (
            lambda: layers.RandomBrightness(factor=1.1),
            ValueError,
            "The `factor` argument should be a number",
        ),
        (
            lambda: layers.RandomBrightness(0.1, value_range=[10]),
            ValueError,
            "The `value_range` argument should be a list of two numbers",
        ),
        (
            lambda: layers.Normalization(mean=0.5),
            ValueError,
            "both `mean` and `variance` must be set",
        ),
        (
            lambda: layers.Normalization(axis=3).build((2, 2)),
            ValueError,
            "All `axis` values must be in the range",
        ),
        (
            lambda: layers.StringLookup(max_tokens=1),
            ValueError,
            "If set, `max_tokens` must be greater than 1.",
        ),
        (
            lambda: layers.StringLookup(vocabulary=["a", "a"]),
            ValueError,
            "The passed vocabulary has at least one repeated term.",
        ),
        (
            lambda: layers.StringLookup(
                vocabulary=["a"], invert=True, output_mode="one_hot"
            ),
            ValueError,
            "`output_mode` must be `'int'` when `invert` is true",
        ),
        (
            lambda: layers.TextVectorization(
                output_mode="multi_hot", output_sequence_length=5
            ),
            ValueError,
            "`output_sequence_length` must not be set if `output_mode` is not",
        ),
        (
            lambda: layers.MelSpectrogram(fft_length=256, sequence_length=512),
            ValueError,
            "`fft_length` must be greater than or equal to",
        ),
        (
            lambda: layers.StringLookup(output_mode="multi_hot")(["a"]),
            RuntimeError,
            "When using `output_mode=multi_hot` and",
        ),
    ],
)
def test_errors_carry_keras_phrase_and_the_received_value(build, error, keras_phrase):
    with pytest.raises(error) as info:
        build()
    message = str(info.value)
    assert keras_phrase in message
    # lamina's own detail stays: who raised it, and what it got or needs.
    assert any(name in message for name in ("got", "needs", "lookup"))
