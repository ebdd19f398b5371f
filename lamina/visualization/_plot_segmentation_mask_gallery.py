"""plot_segmentation_mask_gallery: images beside their true and predicted
segmentation masks, one row per image."""

import numpy as np

from lamina.backend.tensors import convert_to_numpy
from lamina.visualization import _common
from lamina.visualization._draw_segmentation_masks import draw_segmentation_masks
from lamina.visualization._plot_image_gallery import plot_image_gallery

_WHO = "plot_segmentation_mask_gallery()"


def plot_segmentation_mask_gallery(
    images,
    num_classes,
    value_range=(0, 255),
    y_true=None,
    y_pred=None,
    color_mapping=None,
    blend=True,
    alpha=0.8,
    ignore_index=-1,
    data_format=None,
    **kwargs,
):
    """Shows each image in a row, followed by the image with its true mask and
    with its predicted mask drawn (see `draw_segmentation_masks`).

    Needs matplotlib (`pip install "lamina[plot]"`).

    Args:
        images: A batch of images `(batch, height, width, channels)`.
        num_classes: Number of class colors.
        value_range: `(low, high)` of the pixel values. Defaults to
            `(0, 255)`.
        y_true: True class ids `(batch, height, width[, 1])`.
        y_pred: Predicted class ids of the same shape.
        color_mapping: Dict from class id to an RGB color. Defaults to a
            generated palette.
        blend: Whether to blend the colors into the image. Defaults to
            `True`.
        alpha: Weight of the colors when blending. Defaults to `0.8`.
        ignore_index: Mask value left unblended. Defaults to `-1`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `lamina.backend.image_data_format()`.
        **kwargs: Passed on to `plot_image_gallery` (`path`, `show`, `scale`,
            ...).

    Raises:
        ValueError: If `images` is not a batch of rank 4.
        ImportError: If matplotlib is not installed.
    """
    _common.pyplot(_WHO)
    fmt = _common.data_format(data_format, _WHO)
    images = _common.to_channels_last(_common.batch_of_images(images, _WHO), fmt)
    batch_size = images.shape[0]

    def drawn(masks):
        masks = convert_to_numpy(masks)
        if masks.ndim == 4:
            masks = _common.to_channels_last(masks, fmt)
        return draw_segmentation_masks(
            images,
            masks.astype("int32"),
            num_classes=num_classes,
            color_mapping=color_mapping,
            alpha=alpha,
            blend=blend,
            ignore_index=ignore_index,
            data_format="channels_last",
        )

    columns = [images]
    if y_true is not None:
        columns.append(drawn(y_true))
    if y_pred is not None:
        columns.append(drawn(y_pred))
    gallery = np.stack(
        [column[i] for i in range(batch_size) for column in columns], axis=0
    )
    return plot_image_gallery(
        gallery,
        value_range=value_range,
        rows=batch_size,
        cols=len(columns),
        data_format="channels_last",
        **kwargs,
    )
