"""lamina.utils.bounding_boxes against Keras 3's keras.utils.bounding_boxes."""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")

from lamina.utils import bounding_boxes as bb  # noqa: E402

FORMATS = (
    "xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw",
    "rel_xyxy", "rel_yxyx", "rel_xywh", "rel_center_xywh",
)  # fmt: skip
RNG = np.random.default_rng(0)
# xyxy boxes inside a 40 x 60 image, batched (2, 5, 4).
_XY1 = RNG.uniform(0, 30, (2, 5, 2))
BOXES = np.concatenate([_XY1, _XY1 + RNG.uniform(1, 25, (2, 5, 2))], -1).astype(
    "float32"
)


def _keras_bb():
    keras = pytest.importorskip("keras")
    return keras.utils.bounding_boxes


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def test_names_match_keras():
    theirs = {n for n in dir(_keras_bb()) if not n.startswith("_")}
    assert set(bb.__all__) == theirs


@pytest.mark.parametrize("source", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_convert_format_matches_keras_for_every_pair(source, target):
    kbb = _keras_bb()
    boxes = kbb.convert_format(BOXES.copy(), "xyxy", source, height=40, width=60)
    boxes = _np(boxes)
    ours = bb.convert_format(boxes, source, target, height=40, width=60)
    theirs = kbb.convert_format(boxes, source, target, height=40, width=60)
    assert isinstance(ours, torch.Tensor) and ours.dtype == torch.float32
    assert ours.shape == (2, 5, 4)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6, atol=1e-6)


def test_convert_format_round_trips_and_known_values():
    out = bb.convert_format([[10, 20, 30, 60]], "xyxy", "center_yxhw")
    np.testing.assert_array_equal(_np(out), [[40.0, 20.0, 40.0, 20.0]])
    rel = bb.convert_format(BOXES, "xyxy", "rel_center_xywh", height=40, width=60)
    back = bb.convert_format(rel, "REL_CENTER_XYWH", "xyxy", height=40, width=60)
    np.testing.assert_allclose(_np(back), BOXES, rtol=1e-5, atol=1e-4)


def test_convert_format_dtype_and_dict_input():
    out = bb.convert_format(BOXES, "xyxy", "xyxy", dtype="float64")
    assert out.dtype == torch.float64
    data = {"boxes": BOXES[0], "labels": np.arange(5)}
    result = bb.convert_format(data, "xyxy", "xywh")
    assert result is data and isinstance(data["boxes"], torch.Tensor)
    np.testing.assert_allclose(
        _np(data["boxes"])[:, 2:], BOXES[0, :, 2:] - BOXES[0, :, :2]
    )
    np.testing.assert_array_equal(data["labels"], np.arange(5))


def test_convert_format_errors():
    with pytest.raises(ValueError, match="format source='xy'"):
        bb.convert_format(BOXES, "xy", "xyxy")
    with pytest.raises(ValueError, match="last axis has 4.*got shape \\(2, 3\\)"):
        bb.convert_format(np.zeros((2, 3)), "xyxy", "xywh")
    with pytest.raises(ValueError, match="height.*width"):
        bb.convert_format(BOXES, "xyxy", "rel_xyxy", height=10)


@pytest.mark.parametrize("fmt", ["xyxy", "rel_xyxy"])
def test_clip_to_image_size_matches_keras(fmt):
    kbb = _keras_bb()
    boxes = np.array([[[-5, 3, 70, 30], [61, 2, 80, 9], [4, 4, 8, 8]]], "float32")
    if fmt == "rel_xyxy":
        boxes = boxes / 60.0
    labels = np.array([[1, 2, 3]], "int32")
    kwargs = dict(height=40, width=60, bounding_box_format=fmt)
    ours = bb.clip_to_image_size({"boxes": boxes, "labels": labels, "x": 1}, **kwargs)
    theirs = kbb.clip_to_image_size({"boxes": boxes, "labels": labels}, **kwargs)
    np.testing.assert_allclose(_np(ours["boxes"]), _np(theirs["boxes"]))
    np.testing.assert_array_equal(_np(ours["labels"]), _np(theirs["labels"]))
    assert ours["labels"].dtype == torch.int32 and ours["x"] == 1
    assert _np(ours["labels"]).tolist() == [[1, -1, 3]]


def test_clip_to_image_size_errors():
    with pytest.raises(NotImplementedError, match="xywh"):
        bb.clip_to_image_size({"boxes": BOXES}, 4, 4, bounding_box_format="xywh")
    with pytest.raises(ValueError, match="height.*width"):
        bb.clip_to_image_size({"boxes": BOXES}, height=4)


def test_crop_and_pad_match_keras():
    kbb = _keras_bb()
    for boxes in (BOXES, BOXES[0].astype("int64")):
        ours = bb.crop(boxes, top=5, left=7, height=20, width=25)
        theirs = kbb.crop(boxes, top=5, left=7, height=20, width=25)
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(_np(ours), _np(theirs))
        ours = bb.pad(boxes, top=5, left=7)
        theirs = kbb.pad(boxes, top=5, left=7)
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(_np(ours), _np(theirs))
    with pytest.raises(NotImplementedError):
        bb.crop(BOXES, 1, 1, 2, 2, bounding_box_format="yxyx")


def test_affine_transform_matches_keras():
    kbb = _keras_bb()
    params = dict(
        angle=np.array([30.0, -12.0], "float32"),
        translate_x=np.array([0.1, -0.2], "float32"),
        translate_y=np.array([0.05, 0.0], "float32"),
        scale=np.array([1.2, 0.8], "float32"),
        shear_x=np.array([5.0, 0.0], "float32"),
        shear_y=np.array([0.0, -7.0], "float32"),
        height=40,
        width=60,
    )
    theirs = kbb.affine_transform(
        BOXES, **{k: torch.as_tensor(v) for k, v in params.items()}
    )
    ours = bb.affine_transform(BOXES, **params)
    assert ours.shape == (2, 5, 4) and ours.dtype == torch.float32
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-5, atol=1e-4)


def test_affine_transform_identity_keeps_boxes():
    zeros = np.zeros(2, "float32")
    out = bb.affine_transform(
        BOXES, zeros, zeros, zeros, zeros + 1, zeros, zeros, 40, 60
    )
    np.testing.assert_allclose(_np(out), BOXES, atol=1e-4)


@pytest.mark.parametrize("variance", [None, [0.1, 0.1, 0.2, 0.2]])
@pytest.mark.parametrize("encoding", ["center_yxhw", "center_xywh"])
def test_encode_decode_match_keras_and_invert(variance, encoding):
    kbb = _keras_bb()
    anchors = BOXES[0]
    args = (anchors, BOXES, "xyxy", "rel_xyxy")
    kwargs = dict(variance=variance, image_shape=(40, 60, 3))
    rel = _np(kbb.convert_format(BOXES, "xyxy", "rel_xyxy", height=40, width=60))
    args = (anchors, rel, "xyxy", "rel_xyxy")
    ours = bb.encode_box_to_deltas(*args, encoding_format=encoding, **kwargs)
    theirs = kbb.encode_box_to_deltas(*args, encoding_format=encoding, **kwargs)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-5, atol=1e-5)
    decoded = bb.decode_deltas_to_boxes(
        anchors, ours, "xyxy", "rel_xyxy", encoded_format=encoding, **kwargs
    )
    np.testing.assert_allclose(_np(decoded), rel, rtol=1e-4, atol=1e-5)
    levels = bb.decode_deltas_to_boxes(
        {"p3": anchors}, {"p3": _np(ours)}, "xyxy", "rel_xyxy",
        encoded_format=encoding, **kwargs,
    )  # fmt: skip
    np.testing.assert_allclose(_np(levels["p3"]), _np(decoded))


def test_encode_decode_errors():
    with pytest.raises(ValueError, match="variance"):
        bb.encode_box_to_deltas(BOXES[0], BOXES, "xyxy", "xyxy", variance=[1, 2])
    with pytest.raises(ValueError, match="encoding_format"):
        bb.encode_box_to_deltas(BOXES[0], BOXES, "xyxy", "xyxy", "xyxy")
    with pytest.raises(ValueError, match="encoded_format"):
        bb.decode_deltas_to_boxes(BOXES[0], BOXES, "xyxy", "xyxy", "xywh")


@pytest.mark.parametrize("fmt", ["xyxy", "yxyx", "center_xywh", "rel_xyxy"])
@pytest.mark.parametrize("ranks", [(2, 2), (3, 3), (3, 2), (2, 3)])
def test_compute_iou_matches_keras(fmt, ranks):
    kbb = _keras_bb()
    boxes = _np(kbb.convert_format(BOXES, "xyxy", fmt, height=40, width=60))
    boxes1 = boxes if ranks[0] == 3 else boxes[0]
    boxes2 = boxes[:, :3] if ranks[1] == 3 else boxes[1, :3]
    shape = (40, 60, 3)
    ours = bb.compute_iou(boxes1, boxes2, fmt, image_shape=shape)
    theirs = kbb.compute_iou(boxes1, boxes2, fmt, image_shape=shape)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6, atol=1e-7)


def test_compute_iou_masks_padding_boxes():
    kbb = _keras_bb()
    boxes = BOXES.copy()
    boxes[0, 4] = -1.0
    ours = bb.compute_iou(boxes, boxes, "xyxy", use_masking=True, mask_val=-3)
    theirs = kbb.compute_iou(boxes, boxes, "xyxy", use_masking=True, mask_val=-3)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6)
    assert (_np(ours)[0, 4] == -3).all() and (_np(ours)[0, :, 4] == -3).all()
    np.testing.assert_allclose(np.diagonal(_np(ours)[1]), 1.0, rtol=1e-5)


def test_compute_iou_errors():
    with pytest.raises(ValueError, match="boxes1.*got shape \\(4,\\)"):
        bb.compute_iou(BOXES[0, 0], BOXES, "xyxy")
    with pytest.raises(ValueError, match="image_shape"):
        bb.compute_iou(BOXES, BOXES, "rel_xyxy")


@pytest.mark.parametrize("fmt", ["xyxy", "center_yxhw", "xywh"])
def test_compute_ciou_matches_keras(fmt):
    kbb = _keras_bb()
    boxes = _np(kbb.convert_format(BOXES, "xyxy", fmt))
    ours = bb.compute_ciou(boxes[0], boxes[1], fmt)
    theirs = kbb.compute_ciou(boxes[0], boxes[1], fmt)
    assert ours.shape == (5,)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(bb.compute_ciou(boxes, boxes, fmt)), 1.0, atol=1e-5)


def test_compute_ciou_relative_formats_need_image_shape():
    with pytest.raises(ValueError, match="image_shape"):
        bb.compute_ciou(BOXES, BOXES, "rel_xyxy")
    rel = bb.convert_format(BOXES, "xyxy", "rel_xyxy", height=40, width=60)
    out = bb.compute_ciou(rel[0], rel[1], "rel_xyxy", image_shape=(40, 60, 3))
    np.testing.assert_allclose(
        _np(out), _np(bb.compute_ciou(BOXES[0], BOXES[1], "xyxy")), rtol=1e-4
    )
