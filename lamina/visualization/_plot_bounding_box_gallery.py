"""plot_bounding_box_gallery: images with true and predicted boxes, in a grid."""

import numpy as np

from lamina.visualization import _common
from lamina.visualization._draw_bounding_boxes import draw_bounding_boxes
from lamina.visualization._plot_image_gallery import plot_image_gallery

_WHO = "plot_bounding_box_gallery()"


def plot_bounding_box_gallery(
    images,
    bounding_box_format,
    y_true=None,
    y_pred=None,
    value_range=(0, 255),
    true_color=(0, 188, 212),
    pred_color=(255, 235, 59),
    line_thickness=2,
    font_scale=1.0,
    text_thickness=None,
    class_mapping=None,
    ground_truth_mapping=None,
    prediction_mapping=None,
    legend=False,
    legend_handles=None,
    rows=None,
    cols=None,
    data_format=None,
    **kwargs,
):
    """Shows a batch of images with ground-truth and predicted boxes drawn.

    Needs matplotlib (`pip install "lamina[plot]"`), and Pillow when class
    names are written.

    Args:
        images: A batch of images `(batch, height, width, channels)`.
        bounding_box_format: Format of the boxes, see
            `lamina.utils.bounding_boxes.convert_format`.
        y_true: Ground-truth boxes, a dict as `draw_bounding_boxes` takes.
        y_pred: Predicted boxes, a dict of the same kind.
        value_range: `(low, high)` of the pixel values. Defaults to
            `(0, 255)`.
        true_color: RGB color of ground-truth boxes. Defaults to
            `(0, 188, 212)`.
        pred_color: RGB color of predicted boxes. Defaults to
            `(255, 235, 59)`.
        line_thickness: Width of the box lines. Defaults to `2`.
        font_scale: Size of class names. Defaults to `1.0`.
        text_thickness: Stroke of class names. Defaults to `line_thickness`.
        class_mapping: Dict from class id to name, for both kinds of boxes.
        ground_truth_mapping: Names for ground-truth boxes; overrides
            `class_mapping` for them.
        prediction_mapping: Names for predicted boxes; overrides
            `class_mapping` for them.
        legend: Whether to add a legend of the two colors. Defaults to
            `False`.
        legend_handles: Matplotlib artists for a custom legend (not together
            with `legend=True`).
        rows: Rows of the grid (see `plot_image_gallery`).
        cols: Columns of the grid.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `lamina.backend.image_data_format()`.
        **kwargs: Passed on to `plot_image_gallery` (`path`, `show`, `scale`,
            `dpi`, ...).

    Raises:
        ValueError: If `images` is not a batch of rank 4, or both `legend`
            and `legend_handles` are given.
        ImportError: If matplotlib is not installed.
    """
    _common.pyplot(_WHO)
    prediction_mapping = prediction_mapping or class_mapping
    ground_truth_mapping = ground_truth_mapping or class_mapping
    fmt = _common.data_format(data_format, _WHO)
    plotted = _common.to_channels_last(_common.batch_of_images(images, _WHO), fmt)
    drawing = dict(
        bounding_box_format=bounding_box_format,
        line_thickness=line_thickness,
        text_thickness=text_thickness,
        font_scale=font_scale,
        data_format="channels_last",
    )
    if y_true is not None:
        plotted = draw_bounding_boxes(
            plotted,
            y_true,
            color=true_color,
            class_mapping=ground_truth_mapping,
            **drawing,
        )
    if y_pred is not None:
        plotted = draw_bounding_boxes(
            plotted,
            y_pred,
            color=pred_color,
            class_mapping=prediction_mapping,
            **drawing,
        )
    if legend:
        if legend_handles:
            raise ValueError(
                f"{_WHO} takes `legend=True` (a legend of the two box colors) or "
                "`legend_handles`, not both."
            )
        from matplotlib.patches import Patch

        legend_handles = [
            Patch(color=np.array(true_color) / 255.0, label="Ground Truth"),
            Patch(color=np.array(pred_color) / 255.0, label="Prediction"),
        ]
    return plot_image_gallery(
        plotted,
        value_range=value_range,
        legend_handles=legend_handles,
        rows=rows,
        cols=cols,
        data_format="channels_last",
        **kwargs,
    )
