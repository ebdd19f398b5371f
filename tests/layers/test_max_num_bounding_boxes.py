"""MaxNumBoundingBoxes: boxes padded or cut to a fixed count, as in Keras 3."""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina  # noqa: E402
from lamina import layers  # noqa: E402

BOXES = np.array(
    [[[10, 20, 100, 150], [50, 60, 200, 250], [0, 0, 50, 50]]] * 2, "float32"
)
LABELS = np.array([[1, 2, 3], [4, 5, 6]], "int32")


def _data(batched=True):
    images = np.random.default_rng(0).uniform(0, 255, (2, 12, 10, 3))
    data = {"images": images, "bounding_boxes": {"boxes": BOXES, "labels": LABELS}}
    if not batched:
        data = {
            "images": images[0],
            "bounding_boxes": {"boxes": BOXES[0], "labels": LABELS[0]},
        }
    return data


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("max_number", [2, 3, 5])
def test_pads_or_cuts_like_keras(batched, max_number):
    keras = pytest.importorskip("keras")
    kwargs = dict(max_number=max_number, fill_value=-2, bounding_box_format="xyxy")
    ours = layers.MaxNumBoundingBoxes(**kwargs)(_data(batched))
    theirs = keras.layers.MaxNumBoundingBoxes(**kwargs)(_data(batched))
    for key in ("boxes", "labels"):
        got, want = ours["bounding_boxes"][key], theirs["bounding_boxes"][key]
        assert tuple(got.shape) == tuple(want.shape)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(_np(got), _np(want))
    assert ours["images"].dtype == theirs["images"].dtype == torch.float32
    np.testing.assert_allclose(_np(ours["images"]), _np(theirs["images"]), rtol=1e-6)


def test_padding_values_and_shapes():
    out = layers.MaxNumBoundingBoxes(4, bounding_box_format="xyxy")(_data())
    boxes, labels = (
        _np(out["bounding_boxes"]["boxes"]),
        _np(out["bounding_boxes"]["labels"]),
    )
    assert boxes.shape == (2, 4, 4) and labels.shape == (2, 4)
    np.testing.assert_array_equal(boxes[:, :3], BOXES)
    np.testing.assert_array_equal(boxes[:, 3], -1.0)
    assert labels.tolist() == [[1, 2, 3, -1], [4, 5, 6, -1]]


def test_other_entries_pass_through_and_masks_are_cast():
    data = _data()
    data["labels"] = np.array([0, 1])
    data["segmentation_masks"] = np.zeros((2, 12, 10, 1), "int32")
    out = layers.MaxNumBoundingBoxes(1, bounding_box_format="xyxy")(data)
    assert _np(out["labels"]).tolist() == [0, 1]
    assert out["segmentation_masks"].dtype == torch.float32
    assert _np(out["bounding_boxes"]["labels"]).tolist() == [[1], [4]]


def test_plain_images_come_back_in_the_compute_dtype():
    images = np.ones((2, 4, 4, 3), "uint8")
    out = layers.MaxNumBoundingBoxes(3)(images)
    assert out.dtype == torch.float32 and tuple(out.shape) == (2, 4, 4, 3)


def test_dict_with_boxes_needs_a_bounding_box_format():
    with pytest.raises(ValueError, match="bounding_box_format"):
        layers.MaxNumBoundingBoxes(3)(_data())


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_rejects_bad_max_number(bad):
    with pytest.raises(ValueError, match="positive int.*got max_number="):
        layers.MaxNumBoundingBoxes(bad)


def test_compute_output_shape():
    layer = layers.MaxNumBoundingBoxes(7)
    shape = {
        "images": (None, 8, 8, 3),
        "bounding_boxes": {"boxes": (None, 3, 4), "labels": (None, 3)},
    }
    out = layer.compute_output_shape(shape)
    assert out["bounding_boxes"] == {"boxes": (None, 7, 4), "labels": (None, 7)}
    assert out["images"] == (None, 8, 8, 3)
    single = {"images": (8, 8, 3), "bounding_boxes": {"boxes": (3, 4), "labels": (3,)}}
    assert layer.compute_output_shape(single)["bounding_boxes"]["boxes"] == (7, 4)
    with pytest.raises(KeyError, match="extra"):
        layer.compute_output_shape(
            {"bounding_boxes": {"boxes": (1, 3, 4), "labels": (1, 3), "extra": (1,)}}
        )


def test_config_matches_keras_and_round_trips():
    keras = pytest.importorskip("keras")
    kwargs = dict(max_number=5, fill_value=0, bounding_box_format="yxyx")
    ours = layers.MaxNumBoundingBoxes(**kwargs, name="m")
    theirs = keras.layers.MaxNumBoundingBoxes(**kwargs, name="m")
    config, k_config = ours.get_config(), theirs.get_config()
    # Keras drops `fill_value` from its config; lamina keeps it.
    assert set(config) - set(k_config) == {"fill_value"}
    for key in ("max_number", "bounding_box_format", "data_format", "name"):
        assert config[key] == k_config[key]
    rebuilt = layers.MaxNumBoundingBoxes.from_config(config)
    assert rebuilt.get_config() == config and rebuilt.fill_value == 0
    # Configs move both ways.
    assert keras.layers.MaxNumBoundingBoxes.from_config(config).max_number == 5
    assert layers.MaxNumBoundingBoxes.from_config(k_config).max_number == 5
    restored = lamina.layers.deserialize(lamina.layers.serialize(ours))
    assert isinstance(restored, layers.MaxNumBoundingBoxes)
    assert restored.get_config() == config
