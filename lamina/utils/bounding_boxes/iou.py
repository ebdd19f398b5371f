"""Overlap measures of boxes: pairwise IoU tables and Complete IoU."""

import math

import torch

from lamina.backend import config
from lamina.utils.bounding_boxes._tensors import as_tensor, split4
from lamina.utils.bounding_boxes.converters import convert_format


def _check_rank(arg: str, boxes):
    if boxes.ndim not in (2, 3):
        raise ValueError(
            f"compute_iou() expects `{arg}` of shape (num_boxes, 4) or (batch, "
            f"num_boxes, 4); got shape {tuple(boxes.shape)}."
        )


def _needs_image_shape(owner: str, bounding_box_format: str, image_shape):
    if "rel" in bounding_box_format and image_shape is None:
        raise ValueError(
            f"{owner} needs `image_shape` (height, width, channels) for the "
            f"relative format {bounding_box_format!r}; got image_shape=None."
        )
    if image_shape is None:
        return None, None
    height, width, _ = image_shape
    return height, width


def _swap_last_axes(x):
    return x.transpose(-1, -2)


def compute_iou(
    boxes1,
    boxes2,
    bounding_box_format,
    use_masking=False,
    mask_val=-1,
    image_shape=None,
):
    """Pairwise intersection-over-union of two sets of boxes.

    Shapes combine as `(M, 4), (N, 4) -> (M, N)`, and with a batch axis on
    either or both sides `-> (batch, M, N)`.

    Args:
        boxes1: Boxes `(M, 4)` or `(batch, M, 4)`.
        boxes2: Boxes `(N, 4)` or `(batch, N, 4)`.
        bounding_box_format: Format of both (see `convert_format`).
        use_masking: If True, pairs where either box has all its coordinates
            negative (padding) get `mask_val`. Defaults to `False`.
        mask_val: Value of masked pairs. Defaults to `-1`.
        image_shape: `(height, width, channels)`, needed for relative formats.

    Returns:
        A float32 tensor of IoUs in `[0, 1]`, indexed `[..., i, j]` for box
        `i` of `boxes1` and box `j` of `boxes2`.

    Raises:
        ValueError: For boxes of rank other than 2 or 3, or a relative format
            without `image_shape`.

    Example:
    >>> from lamina.utils import bounding_boxes
    >>> a = [[0.0, 0.0, 2.0, 2.0]]
    >>> b = [[1.0, 0.0, 3.0, 2.0], [5.0, 5.0, 6.0, 6.0]]
    >>> [round(v, 4) for v in bounding_boxes.compute_iou(a, b, "xyxy")[0].tolist()]
    [0.3333, 0.0]
    """
    boxes1, boxes2 = as_tensor(boxes1), as_tensor(boxes2)
    _check_rank("boxes1", boxes1)
    _check_rank("boxes2", boxes2)
    height, width = _needs_image_shape(
        "compute_iou()", bounding_box_format, image_shape
    )
    boxes1 = convert_format(boxes1, bounding_box_format, "yxyx", height, width)
    boxes2 = convert_format(boxes2, bounding_box_format, "yxyx", height, width)

    # 1. Intersections: (..., M, 1) against (..., 1, N).
    top1, left1, bottom1, right1 = split4(boxes1)
    top2, left2, bottom2, right2 = (_swap_last_axes(c) for c in split4(boxes2))
    zero = torch.zeros((), dtype=boxes1.dtype, device=boxes1.device)
    inter_h = torch.maximum(
        zero, torch.minimum(bottom1, bottom2) - torch.maximum(top1, top2)
    )
    inter_w = torch.maximum(
        zero, torch.minimum(right1, right2) - torch.maximum(left1, left2)
    )
    intersection = inter_h * inter_w

    # 2. Areas and union.
    area1 = (bottom1 - top1) * (right1 - left1)
    area2 = (bottom2 - top2) * (right2 - left2)
    union = area1 + area2 - intersection
    iou = intersection / (union + config.epsilon())
    if not use_masking:
        return iou

    # 3. Padding boxes (all coordinates negative) get `mask_val`.
    padding1 = boxes1.amax(dim=-1, keepdim=True) < 0.0
    padding2 = _swap_last_axes(boxes2.amax(dim=-1, keepdim=True) < 0.0)
    masked = torch.full_like(iou, float(mask_val))
    return torch.where(padding1 | padding2, masked, iou)


def compute_ciou(boxes1, boxes2, bounding_box_format, image_shape=None):
    """Complete IoU of corresponding boxes: the IoU less a penalty for the
    distance between centers and one for differing aspect ratios (as used by
    the CIoU loss).

    Args:
        boxes1: Boxes `(..., 4)`.
        boxes2: Boxes `(..., 4)`, broadcastable against `boxes1`.
        bounding_box_format: Format of both (see `convert_format`).
        image_shape: `(height, width, channels)`, needed for relative formats.

    Returns:
        A float32 tensor of shape `(...)`, at most 1 (1 for identical boxes).

    Raises:
        ValueError: For a relative format without `image_shape`.
    """
    # Keras rejects relative formats outright; lamina converts them when
    # `image_shape` is given.
    height, width = _needs_image_shape(
        "compute_ciou()", bounding_box_format, image_shape
    )
    boxes1 = convert_format(boxes1, bounding_box_format, "xyxy", height, width)
    boxes2 = convert_format(boxes2, bounding_box_format, "xyxy", height, width)
    x_min1, y_min1, x_max1, y_max1 = split4(boxes1)
    x_min2, y_min2, x_max2, y_max2 = split4(boxes2)
    epsilon = config.epsilon()

    width_1 = x_max1 - x_min1
    height_1 = y_max1 - y_min1 + epsilon
    width_2 = x_max2 - x_min2
    height_2 = y_max2 - y_min2 + epsilon
    intersection = torch.clamp(
        torch.minimum(x_max1, x_max2) - torch.maximum(x_min1, x_min2), min=0
    ) * torch.clamp(
        torch.minimum(y_max1, y_max2) - torch.maximum(y_min1, y_min2), min=0
    )
    union = width_1 * height_1 + width_2 * height_2 - intersection + epsilon
    iou = (intersection / (union + epsilon)).squeeze(-1)

    convex_width = torch.maximum(x_max1, x_max2) - torch.minimum(x_min1, x_min2)
    convex_height = torch.maximum(y_max1, y_max2) - torch.minimum(y_min1, y_min2)
    diagonal_squared = (convex_width**2 + convex_height**2 + epsilon).squeeze(-1)
    centers_squared = (
        ((x_min1 + x_max1) / 2 - (x_min2 + x_max2) / 2) ** 2
        + ((y_min1 + y_max1) / 2 - (y_min2 + y_max2) / 2) ** 2
    ).squeeze(-1)
    # Aspect-ratio term v and its weight alpha (Zheng et al., 2020).
    v = (
        (4 / math.pi**2)
        * (torch.arctan(width_2 / height_2) - torch.arctan(width_1 / height_1)) ** 2
    ).squeeze(-1)
    alpha = v / (v - iou + (1 + epsilon))
    return iou - (centers_squared / diagonal_squared + v * alpha)
