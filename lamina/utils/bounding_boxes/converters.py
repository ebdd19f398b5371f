"""Bounding-box formats and the geometric edits of boxes that follow image
edits (clip, crop, pad, affine maps), plus anchor delta encoding."""

import math

import torch

from lamina.backend import config
from lamina.backend.dtypes import to_torch_dtype
from lamina.utils.bounding_boxes._tensors import as_tensor, split4

SUPPORTED_FORMATS = (
    "xyxy",
    "yxyx",
    "xywh",
    "center_xywh",
    "center_yxhw",
    "rel_xyxy",
    "rel_yxyx",
    "rel_xywh",
    "rel_center_xywh",
)

# Each format as a map to and from xyxy corners, in absolute pixels. The
# arithmetic order follows Keras's, so results agree to the last bit.


def _yxyx_to_xyxy(b, height, width):
    y1, x1, y2, x2 = split4(b)
    return torch.cat([x1, y1, x2, y2], dim=-1)


def _xywh_to_xyxy(b, height, width):
    x1, y1, w, h = split4(b)
    return torch.cat([x1, y1, x1 + w, y1 + h], dim=-1)


def _center_xywh_to_xyxy(b, height, width):
    cx, cy, w, h = split4(b)
    half_w, half_h = w / 2.0, h / 2.0
    return torch.cat([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=-1)


def _center_yxhw_to_xyxy(b, height, width):
    cy, cx, h, w = split4(b)
    return _center_xywh_to_xyxy(torch.cat([cx, cy, w, h], dim=-1), height, width)


def _rel_xyxy_to_xyxy(b, height, width):
    x1, y1, x2, y2 = split4(b)
    return torch.cat([x1 * width, y1 * height, x2 * width, y2 * height], dim=-1)


def _rel_yxyx_to_xyxy(b, height, width):
    y1, x1, y2, x2 = split4(b)
    return torch.cat([x1 * width, y1 * height, x2 * width, y2 * height], dim=-1)


def _rel_xywh_to_xyxy(b, height, width):
    x1, y1, w, h = split4(b)
    return torch.cat(
        [x1 * width, y1 * height, (x1 + w) * width, (y1 + h) * height], dim=-1
    )


def _rel_center_xywh_to_xyxy(b, height, width):
    cx, cy, w, h = split4(b)
    half_w, half_h = w / 2.0, h / 2.0
    return torch.cat(
        [
            (cx - half_w) * width,
            (cy - half_h) * height,
            (cx + half_w) * width,
            (cy + half_h) * height,
        ],
        dim=-1,
    )


def _xyxy_to_yxyx(b, height, width):
    x1, y1, x2, y2 = split4(b)
    return torch.cat([y1, x1, y2, x2], dim=-1)


def _xyxy_to_xywh(b, height, width):
    x1, y1, x2, y2 = split4(b)
    return torch.cat([x1, y1, x2 - x1, y2 - y1], dim=-1)


def _centers(b):
    x1, y1, x2, y2 = split4(b)
    w, h = x2 - x1, y2 - y1
    return x1 + (w / 2.0), y1 + (h / 2.0), w, h


def _xyxy_to_center_xywh(b, height, width):
    return torch.cat(_centers(b), dim=-1)


def _xyxy_to_center_yxhw(b, height, width):
    cx, cy, w, h = _centers(b)
    return torch.cat([cy, cx, h, w], dim=-1)


def _xyxy_to_rel_xyxy(b, height, width):
    x1, y1, x2, y2 = split4(b)
    return torch.cat([x1 / width, y1 / height, x2 / width, y2 / height], dim=-1)


def _xyxy_to_rel_yxyx(b, height, width):
    x1, y1, x2, y2 = split4(b)
    return torch.cat([y1 / height, x1 / width, y2 / height, x2 / width], dim=-1)


def _xyxy_to_rel_xywh(b, height, width):
    x1, y1, x2, y2 = split4(b)
    return torch.cat(
        [x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height], dim=-1
    )


def _xyxy_to_rel_center_xywh(b, height, width):
    cx, cy, w, h = _centers(b)
    return torch.cat([cx / width, cy / height, w / width, h / height], dim=-1)


_TO_XYXY = {
    "xyxy": lambda b, height, width: b,
    "yxyx": _yxyx_to_xyxy,
    "xywh": _xywh_to_xyxy,
    "center_xywh": _center_xywh_to_xyxy,
    "center_yxhw": _center_yxhw_to_xyxy,
    "rel_xyxy": _rel_xyxy_to_xyxy,
    "rel_yxyx": _rel_yxyx_to_xyxy,
    "rel_xywh": _rel_xywh_to_xyxy,
    "rel_center_xywh": _rel_center_xywh_to_xyxy,
}
_FROM_XYXY = {
    "xyxy": lambda b, height, width: b,
    "yxyx": _xyxy_to_yxyx,
    "xywh": _xyxy_to_xywh,
    "center_xywh": _xyxy_to_center_xywh,
    "center_yxhw": _xyxy_to_center_yxhw,
    "rel_xyxy": _xyxy_to_rel_xyxy,
    "rel_yxyx": _xyxy_to_rel_yxyx,
    "rel_xywh": _xyxy_to_rel_xywh,
    "rel_center_xywh": _xyxy_to_rel_center_xywh,
}


def _check_format(arg: str, value) -> str:
    fmt = value.lower() if isinstance(value, str) else value
    if fmt not in SUPPORTED_FORMATS:
        raise ValueError(
            f"Unknown bounding box format {arg}={value!r}; expected one of "
            f"{SUPPORTED_FORMATS} (case-insensitive)."
        )
    return fmt


def _check_boxes(owner: str, boxes):
    if boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(
            f"{owner} expects `boxes` whose last axis has 4 coordinates, such as "
            f"(num_boxes, 4) or (batch, num_boxes, 4); got shape "
            f"{tuple(boxes.shape)}."
        )


def convert_format(boxes, source, target, height=None, width=None, dtype="float32"):
    """Converts bounding boxes from one format to another.

    Formats (case-insensitive), per box:

    - `"xyxy"`: `[left, top, right, bottom]`
    - `"yxyx"`: `[top, left, bottom, right]`
    - `"xywh"`: `[left, top, width, height]`
    - `"center_xywh"`: `[center_x, center_y, width, height]`
    - `"center_yxhw"`: `[center_y, center_x, height, width]`
    - `"rel_xyxy"`, `"rel_yxyx"`, `"rel_xywh"`, `"rel_center_xywh"`: the same
      with x divided by the image width and y by its height.

    Args:
        boxes: Boxes `(..., 4)` (tensor, array or nested lists), or a dict
            with a `"boxes"` entry; the dict's entry is replaced by the
            converted boxes and the same dict returned, as Keras does.
        source: Format of `boxes`.
        target: Format to convert to.
        height: Image height, needed when either format is relative.
        width: Image width, needed when either format is relative.
        dtype: Dtype of the result. Defaults to `"float32"`.

    Returns:
        A tensor of the same shape in `target` format (or the dict holding it).

    Raises:
        ValueError: For an unknown format, boxes whose last axis is not 4, or
            a relative format without `height` and `width`.

    Example:
    >>> from lamina.utils import bounding_boxes
    >>> bounding_boxes.convert_format([[10, 20, 30, 60]], "xyxy", "xywh").tolist()
    [[10.0, 20.0, 20.0, 40.0]]
    """
    if isinstance(boxes, dict):
        boxes["boxes"] = convert_format(
            boxes["boxes"], source, target, height=height, width=width, dtype=dtype
        )
        return boxes
    source = _check_format("source", source)
    target = _check_format("target", target)
    boxes = as_tensor(boxes)
    _check_boxes("convert_format()", boxes)
    if (source.startswith("rel_") or target.startswith("rel_")) and (
        height is None or width is None
    ):
        raise ValueError(
            "convert_format() must receive `height` and `width` (of the image) to convert "
            f"between relative and absolute formats; got source={source!r}, "
            f"target={target!r}, height={height!r}, width={width!r}."
        )
    boxes = boxes.to(to_torch_dtype(dtype))
    if source == target:
        return boxes
    if height is not None:
        height = as_tensor(height, dtype)
    if width is not None:
        width = as_tensor(width, dtype)
    if source.startswith("rel_") and target.startswith("rel_"):
        source, target = source[4:], target[4:]
    xyxy = _TO_XYXY[source](boxes, height, width)
    return _FROM_XYXY[target](xyxy, height, width)


def _area(boxes):
    x1, y1, x2, y2 = split4(boxes)
    return (x2 - x1) * (y2 - y1)


def clip_to_image_size(
    bounding_boxes, height=None, width=None, bounding_box_format="xyxy"
):
    """Clips boxes to the image and marks boxes left with no area.

    Args:
        bounding_boxes: A dict with `"boxes"` `(N, 4)` or `(batch, N, 4)` and
            optionally `"labels"` `(N,)` or `(batch, N)`.
        height: Image height; required for `"xyxy"`.
        width: Image width; required for `"xyxy"`.
        bounding_box_format: `"xyxy"` (pixels, clipped to `[0, width]` and
            `[0, height]`) or `"rel_xyxy"` (clipped to `[0, 1]`). Defaults to
            `"xyxy"`.

    Returns:
        A new dict (other entries kept) with the clipped `"boxes"`; the label
        of each box whose clipped area is not positive becomes `-1`.

    Raises:
        NotImplementedError: For a format other than `"xyxy"` and `"rel_xyxy"`.
        ValueError: For `"xyxy"` without `height` and `width`, or a missing
            `"boxes"` entry.
    """
    if bounding_box_format not in ("xyxy", "rel_xyxy"):
        raise NotImplementedError(
            "clip_to_image_size() supports bounding_box_format='xyxy' or "
            f"'rel_xyxy'; got {bounding_box_format!r}. Convert the boxes with "
            "convert_format() first."
        )
    if bounding_box_format == "xyxy" and (height is None or width is None):
        raise ValueError(
            "clip_to_image_size() needs `height` and `width` for "
            f"bounding_box_format='xyxy'; got height={height!r}, width={width!r}."
        )
    if not isinstance(bounding_boxes, dict) or "boxes" not in bounding_boxes:
        raise ValueError(
            "clip_to_image_size() expects a dict with a 'boxes' entry (and "
            f"optionally 'labels'); got {type(bounding_boxes).__name__}."
        )
    boxes = as_tensor(bounding_boxes["boxes"])
    _check_boxes("clip_to_image_size()", boxes)
    labels = bounding_boxes.get("labels")
    if bounding_box_format == "xyxy":
        high_x = as_tensor(width).to(boxes.dtype)
        high_y = as_tensor(height).to(boxes.dtype)
    else:
        high_x = high_y = torch.tensor(1.0, dtype=boxes.dtype, device=boxes.device)
    low = torch.zeros((), dtype=boxes.dtype, device=boxes.device)
    x1, y1, x2, y2 = split4(boxes)
    boxes = torch.cat(
        [
            torch.clamp(x1, low, high_x),
            torch.clamp(y1, low, high_y),
            torch.clamp(x2, low, high_x),
            torch.clamp(y2, low, high_y),
        ],
        dim=-1,
    )
    result = bounding_boxes.copy()
    result["boxes"] = boxes
    if labels is not None:
        labels = as_tensor(labels)
        areas = _area(boxes).squeeze(-1)
        result["labels"] = torch.where(areas > 0, labels, torch.full_like(labels, -1))
    return result


def _inverse_affine_matrix(
    center_x, center_y, angle, translate_x, translate_y, scale, shear_x, shear_y,
    height, width,
):  # fmt: skip
    """`(B, 3, 3)` matrices undoing the image transform of the augmentation
    layers (rotation, shear in degrees; translation as fractions), which is
    how points move when the image is resampled through the forward one."""
    batch = angle.shape[0]
    angle, shear_x, shear_y = -angle, -shear_x, -shear_y
    cx = center_x * (width - 1)
    cy = center_y * (height - 1)
    rot = angle * (1.0 / 180.0 * math.pi)
    tx = -translate_x * (width - 1)
    ty = -translate_y * (height - 1)
    sx = shear_x * (1.0 / 180.0 * math.pi)
    sy = shear_y * (1.0 / 180.0 * math.pi)
    cos_sy = torch.cos(sy)
    tan_sx = torch.tan(sx)
    rot_minus_sy = rot - sy
    cx_plus_tx = cx + tx
    cy_plus_ty = cy + ty
    # Rotation and shear, then inverted; its determinant is 1.
    a = torch.cos(rot_minus_sy) / cos_sy
    b = a * tan_sx + torch.sin(rot)
    c = -torch.sin(rot_minus_sy) / cos_sy
    d = torch.cos(rot) - c * tan_sx
    a0, a1, b0, b1 = d * scale, -b * scale, -c * scale, a * scale
    a2 = cx - a0 * cx_plus_tx - a1 * cy_plus_ty
    b2 = cy - b0 * cx_plus_tx - b1 * cy_plus_ty
    zeros = torch.zeros(batch, dtype=angle.dtype, device=angle.device)
    rows = [a0, a1, a2, b0, b1, b2, zeros, zeros, zeros + 1]
    rows = [torch.broadcast_to(r, (batch,)).to(angle.dtype) for r in rows]
    return torch.stack(rows, dim=-1).reshape(batch, 3, 3)


def affine_transform(
    boxes,
    angle,
    translate_x,
    translate_y,
    scale,
    shear_x,
    shear_y,
    height,
    width,
    center_x=None,
    center_y=None,
    bounding_box_format="xyxy",
):
    """Moves boxes the way an affine image augmentation moves the image.

    Each box's four corners go through the inverse of the image transform and
    the result is the axis-aligned box around them.

    Args:
        boxes: Boxes `(batch, N, 4)` in `"xyxy"` pixels.
        angle: Rotation per image in degrees, shape `(batch,)`.
        translate_x: Horizontal shift per image, a fraction of the width.
        translate_y: Vertical shift per image, a fraction of the height.
        scale: Scaling factor per image.
        shear_x: Shear angle along x per image, in degrees.
        shear_y: Shear angle along y per image, in degrees.
        height: Image height.
        width: Image width.
        center_x: Center of the transform as a fraction of the width.
            Defaults to `0.5`.
        center_y: Center of the transform as a fraction of the height.
            Defaults to `0.5`.
        bounding_box_format: Only `"xyxy"` is supported. Defaults to `"xyxy"`.

    Returns:
        Boxes `(batch, N, 4)` in `"xyxy"`, in the dtype of `angle`.

    Raises:
        NotImplementedError: For a format other than `"xyxy"`.
        ValueError: For boxes that are not `(batch, N, 4)`.
    """
    if bounding_box_format != "xyxy":
        raise NotImplementedError(
            "affine_transform() supports bounding_box_format='xyxy' only; got "
            f"{bounding_box_format!r}. Convert the boxes with convert_format()."
        )
    angle = as_tensor(angle)
    if not angle.is_floating_point():
        angle = angle.to(to_torch_dtype(config.floatx()))
    if angle.ndim == 0:
        angle = angle.reshape(1)
    dtype = angle.dtype

    def _param(value):
        return as_tensor(value).to(dtype)

    matrix = _inverse_affine_matrix(
        _param(0.5 if center_x is None else center_x),
        _param(0.5 if center_y is None else center_y),
        angle,
        _param(translate_x),
        _param(translate_y),
        _param(scale),
        _param(shear_x),
        _param(shear_y),
        _param(height),
        _param(width),
    )
    boxes = as_tensor(boxes).to(dtype)
    if boxes.ndim != 3 or boxes.shape[-1] != 4:
        raise ValueError(
            "affine_transform() expects `boxes` of shape (batch, num_boxes, 4); "
            f"got shape {tuple(boxes.shape)}."
        )
    x1, y1, x2, y2 = boxes.unbind(-1)
    # The corners (x1, y1), (x2, y1), (x2, y2), (x1, y2) with a 1 appended.
    corners = torch.stack([x1, y1, x2, y1, x2, y2, x1, y2], dim=-1)
    corners = corners.reshape(boxes.shape[0], boxes.shape[1], 4, 2)
    corners = torch.cat([corners, torch.ones_like(corners[..., :1])], dim=-1)
    moved = torch.einsum("bnxy,byz->bnxz", corners, matrix[:, :2, :].transpose(1, 2))
    return torch.cat([moved.amin(dim=2), moved.amax(dim=2)], dim=-1)


def crop(boxes, top, left, height, width, bounding_box_format="xyxy"):
    """Shifts boxes into a crop's coordinates and clips them to the crop.

    Args:
        boxes: Boxes `(N, 4)` or `(batch, N, 4)` in `"xyxy"` pixels.
        top: Row of the crop's top edge in the original image.
        left: Column of the crop's left edge.
        height: Height of the crop (boxes are clipped to it).
        width: Width of the crop.
        bounding_box_format: Only `"xyxy"` is supported. Defaults to `"xyxy"`.

    Returns:
        The boxes in the crop's `"xyxy"` coordinates, same shape and dtype.

    Raises:
        NotImplementedError: For a format other than `"xyxy"`.

    Example:
    >>> from lamina.utils import bounding_boxes
    >>> boxes = [[10.0, 20.0, 50.0, 60.0]]
    >>> bounding_boxes.crop(boxes, top=10, left=20, height=40, width=30).tolist()
    [[0.0, 10.0, 30.0, 40.0]]
    """
    if bounding_box_format != "xyxy":
        raise NotImplementedError(
            "crop() supports bounding_box_format='xyxy' only; got "
            f"{bounding_box_format!r}. Convert the boxes with convert_format()."
        )
    boxes = as_tensor(boxes)
    _check_boxes("crop()", boxes)
    x1, y1, x2, y2 = split4(boxes)
    parts = [
        _clip(x1 - left, width),
        _clip(y1 - top, height),
        _clip(x2 - left, width),
        _clip(y2 - top, height),
    ]
    return torch.cat(parts, dim=-1)


def _clip(x, high):
    """`x` clipped to `[0, high]` (no upper bound for None), promoting dtypes
    as Keras's `ops.clip` does."""
    low = torch.zeros((), dtype=torch.int32, device=x.device)
    return torch.clamp(x, low, None if high is None else as_tensor(high))


def pad(boxes, top, left, height=None, width=None, bounding_box_format="xyxy"):
    """Shifts boxes by the padding added above and to the left of the image.

    Args:
        boxes: Boxes `(N, 4)` or `(batch, N, 4)` in `"xyxy"` pixels.
        top: Rows added above the image.
        left: Columns added to the left.
        height: Unused; accepted as Keras accepts it.
        width: Unused; accepted as Keras accepts it.
        bounding_box_format: Only `"xyxy"` is supported. Defaults to `"xyxy"`.

    Returns:
        The shifted boxes, same shape.

    Raises:
        NotImplementedError: For a format other than `"xyxy"`.
    """
    if bounding_box_format != "xyxy":
        raise NotImplementedError(
            "pad() supports bounding_box_format='xyxy' only; got "
            f"{bounding_box_format!r}. Convert the boxes with convert_format()."
        )
    boxes = as_tensor(boxes)
    _check_boxes("pad()", boxes)
    x1, y1, x2, y2 = split4(boxes)
    return torch.cat([x1 + left, y1 + top, x2 + left, y2 + top], dim=-1)


_ENCODINGS = ("center_xywh", "center_yxhw")


def _check_variance(variance):
    if variance is None:
        return None
    variance = as_tensor(variance, "float32")
    if variance.ndim == 0 or variance.shape[-1] != 4:
        raise ValueError(
            "`variance` must hold 4 numbers, one per box coordinate; got "
            f"variance of shape {tuple(variance.shape)}."
        )
    return variance


def _height_width(image_shape):
    if image_shape is None:
        return None, None
    height, width, _ = image_shape
    return height, width


def encode_box_to_deltas(
    anchors,
    boxes,
    anchor_format,
    box_format,
    encoding_format="center_yxhw",
    variance=None,
    image_shape=None,
):
    """Encodes boxes as offsets from anchor boxes (the regression targets of
    anchor-based detectors).

    In the center format, the deltas of a box against its anchor are the
    center offsets divided by the anchor's size, then the log of the size
    ratios; they are divided by `variance` when given.

    Args:
        anchors: Anchor boxes `(N, 4)` in `anchor_format`.
        boxes: Boxes `(N, 4)` or `(batch, N, 4)` in `box_format`.
        anchor_format: Format of `anchors` (see `convert_format`).
        box_format: Format of `boxes`.
        encoding_format: `"center_yxhw"` or `"center_xywh"`, the order of the
            deltas. Defaults to `"center_yxhw"`.
        variance: Optional 4 numbers dividing the deltas.
        image_shape: `(height, width, channels)`, needed for relative formats.

    Returns:
        Deltas of the shape of `boxes`, float32.

    Raises:
        ValueError: If `variance` does not hold 4 numbers or
            `encoding_format` is not a center format.
    """
    variance = _check_variance(variance)
    if encoding_format not in _ENCODINGS:
        raise ValueError(
            "`encoding_format` must be 'center_xywh' or 'center_yxhw'; got "
            f"encoding_format={encoding_format!r}."
        )
    height, width = _height_width(image_shape)
    anchors = convert_format(anchors, anchor_format, encoding_format, height, width)
    boxes = convert_format(boxes, box_format, encoding_format, height, width)
    epsilon = config.epsilon()
    anchor_sizes = torch.clamp(anchors[..., 2:], min=epsilon)
    box_sizes = torch.clamp(boxes[..., 2:], min=epsilon)
    deltas = torch.cat(
        [
            (boxes[..., :2] - anchors[..., :2]) / anchor_sizes,
            torch.log(box_sizes / anchor_sizes),
        ],
        dim=-1,
    )
    if variance is not None:
        deltas = deltas / variance
    return deltas


def decode_deltas_to_boxes(
    anchors,
    boxes_delta,
    anchor_format,
    box_format,
    encoded_format="center_yxhw",
    variance=None,
    image_shape=None,
):
    """Turns deltas against anchors back into boxes (the inverse of
    `encode_box_to_deltas`).

    Args:
        anchors: Anchor boxes `(N, 4)` in `anchor_format`, or a dict of them
            per feature level.
        boxes_delta: Deltas `(N, 4)` or `(batch, N, 4)`, or a dict with the
            keys of `anchors`.
        anchor_format: Format of `anchors` (see `convert_format`).
        box_format: Format of the returned boxes.
        encoded_format: `"center_yxhw"` or `"center_xywh"`, the order of the
            deltas. Defaults to `"center_yxhw"`.
        variance: Optional 4 numbers multiplying the deltas first.
        image_shape: `(height, width, channels)`, needed for relative formats.

    Returns:
        Boxes in `box_format` (a dict per level when given dicts), float32.

    Raises:
        ValueError: If `variance` does not hold 4 numbers or `encoded_format`
            is not a center format.
    """
    variance = _check_variance(variance)
    if encoded_format not in _ENCODINGS:
        raise ValueError(
            "`encoded_format` must be 'center_xywh' or 'center_yxhw'; got "
            f"encoded_format={encoded_format!r}."
        )
    height, width = _height_width(image_shape)

    def decode(anchor, delta):
        anchor = convert_format(anchor, anchor_format, encoded_format, height, width)
        delta = as_tensor(delta)
        if variance is not None:
            delta = delta * variance
        box = torch.cat(
            [
                delta[..., :2] * anchor[..., 2:] + anchor[..., :2],
                torch.exp(delta[..., 2:]) * anchor[..., 2:],
            ],
            dim=-1,
        )
        return convert_format(box, encoded_format, box_format, height, width)

    if isinstance(anchors, dict) and isinstance(boxes_delta, dict):
        return {level: decode(a, boxes_delta[level]) for level, a in anchors.items()}
    return decode(anchors, boxes_delta)
