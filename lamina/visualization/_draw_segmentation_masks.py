"""draw_segmentation_masks: class masks painted over a batch of images."""

import numpy as np

from lamina.backend.tensors import convert_to_numpy
from lamina.visualization import _common

_WHO = "draw_segmentation_masks()"


def draw_segmentation_masks(
    images,
    segmentation_masks,
    num_classes=None,
    color_mapping=None,
    alpha=0.8,
    blend=True,
    ignore_index=-1,
    data_format=None,
):
    """Paints each pixel's class color over a batch of images.

    A pixel of class `k` (for `0 <= k < num_classes`) takes color `k`; pixels
    of other values keep the image. With `blend`, the painted image is mixed
    into the original with weight `alpha`, except at pixels equal to
    `ignore_index`.

    Args:
        images: A batch of images `(batch, height, width, channels)`.
        segmentation_masks: Integer class ids `(batch, height, width, 1)` or
            `(batch, height, width)`.
        num_classes: Number of colors, for ids `0` to `num_classes - 1`.
            Defaults to the largest id in the masks plus one.
        color_mapping: Dict from class id to an RGB color, needed for every id
            in `range(num_classes)`. Defaults to a fixed generated palette.
        alpha: Weight of the colors when blending, in `[0, 1]`. Defaults to
            `0.8`.
        blend: Whether to blend and return `uint8`; if False the painted
            images come back as float32 without blending. Defaults to `True`.
        ignore_index: Mask value left unblended. Defaults to `-1`.
        data_format: `"channels_last"` or `"channels_first"` (then masks are
            `(batch, 1, height, width)`). Defaults to
            `lamina.backend.image_data_format()`.

    Returns:
        A NumPy array of the images with the masks drawn, in the layout of
        `images` (`uint8` when blending, else float32).

    Raises:
        ValueError: If `images` is not a batch of rank 4.
        TypeError: If `segmentation_masks` is not of an integer dtype.

    Example:
    >>> images = np.zeros((1, 2, 2, 3), "uint8")
    >>> masks = np.array([[[1, 0], [0, 2]]])
    >>> out = lamina.visualization.draw_segmentation_masks(
    ...     images, masks, num_classes=3, alpha=1.0
    ... )
    >>> out[0, 0, 0].tolist(), out[0, 0, 1].tolist()
    ([1, 127, 31], [0, 0, 0])
    """
    fmt = _common.data_format(data_format, _WHO)
    images = _common.batch_of_images(images, _WHO)
    masks = convert_to_numpy(segmentation_masks)
    if masks.dtype.kind not in "iu":
        raise TypeError(
            f"{_WHO} expects `segmentation_masks` of an integer dtype (class "
            f"ids); got dtype {masks.dtype}. Cast them, e.g. masks.astype('int32')."
        )
    images = _common.to_channels_last(images, fmt).astype("float32")
    if masks.ndim == 4:
        masks = _common.to_channels_last(masks, fmt)[..., 0]
    if masks.shape != images.shape[:3]:
        raise ValueError(
            f"{_WHO} expects masks of shape (batch, height, width[, 1]) matching "
            f"the images {images.shape[:3]}; got shape {masks.shape}."
        )
    if num_classes is None:
        # Keras infers the largest id, which its own one-hot then rejects on
        # torch; one more color paints every id.
        num_classes = int(masks.max()) + 1 if masks.size else 0
    if color_mapping is None:
        colors = _palette(num_classes)
    else:
        colors = [color_mapping[i] for i in range(num_classes)]

    painted = images.copy()
    for class_id, color in enumerate(colors):
        painted[masks == class_id] = np.asarray(color, "float32")
    if blend:
        mixed = images * (1 - alpha) + painted * alpha
        valid = (masks != ignore_index)[..., None]
        painted = np.where(valid, mixed, images).astype("uint8")
    return _common.to_format(painted, fmt)


def _palette(num_classes):
    """Keras's generated class colors."""
    steps = np.array([2**25 - 1, 2**15 - 1, 2**21 - 1])
    return [((i * steps) % 255).tolist() for i in range(num_classes)]
