"""plot_image_gallery: a grid of images with matplotlib."""

import math

import numpy as np

from lamina.backend.tensors import convert_to_numpy
from lamina.visualization import _common

_WHO = "plot_image_gallery()"


def plot_image_gallery(
    images,
    y_true=None,
    y_pred=None,
    label_map=None,
    rows=None,
    cols=None,
    value_range=(0, 255),
    scale=2,
    path=None,
    show=None,
    transparent=True,
    dpi=60,
    legend_handles=None,
    data_format=None,
):
    """Shows a batch of images in a grid, titled with labels if given.

    Needs matplotlib (`pip install "lamina[plot]"`).

    Args:
        images: A batch of images `(batch, height, width, channels)`.
        y_true: Class ids `(batch,)`, shown as `"Label: name"`.
        y_pred: Predicted class ids `(batch,)`, shown as `"Pred: name"`.
        label_map: Dict from class id to name; required with `y_true` or
            `y_pred`.
        rows: Rows of the grid. Defaults to `ceil(sqrt(batch))`.
        cols: Columns of the grid. Defaults to `batch // rows` (Keras's
            choice, which may leave images out; pass `cols` to show all).
        value_range: `(low, high)` of the pixel values, mapped to `[0, 255]`
            for display. Defaults to `(0, 255)`.
        scale: Size of each grid cell in inches. Defaults to `2`.
        path: File to save the figure to instead of showing it.
        show: Whether to call `plt.show()`. Defaults to `True` when `path` is
            None. With `show=False` and no `path` the figure stays open for
            `plt.gcf()`.
        transparent: Whether the saved figure has a transparent background.
            Defaults to `True`.
        dpi: Resolution of the saved figure. Defaults to `60`.
        legend_handles: Matplotlib artists (e.g. `Patch`es) for a legend.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `lamina.backend.image_data_format()`.

    Raises:
        ValueError: If both `path` and `show=True` are given, `images` is not
            a batch of rank 4, or labels come without `label_map`.
        ImportError: If matplotlib is not installed.
    """
    plt = _common.pyplot(_WHO)
    if path is not None and show:
        raise ValueError(
            f"{_WHO} either saves the figure to `path` or shows it; got "
            f"path={path!r} and show=True. Pass one of them."
        )
    if (y_true is not None or y_pred is not None) and label_map is None:
        raise ValueError(
            f"{_WHO} needs a `label_map` (class id -> name) to title images "
            "with `y_true` or `y_pred`; got label_map=None."
        )
    show = path is None if show is None else show
    fmt = _common.data_format(data_format, _WHO)
    images = _common.to_channels_last(_common.batch_of_images(images, _WHO), fmt)

    batch_size = images.shape[0]
    rows = rows or int(math.ceil(math.sqrt(batch_size)))
    cols = cols or max(1, batch_size // rows)  # Keras: batch // rows
    images = images[: rows * cols]
    if tuple(value_range) != (0, 255):
        low, high = value_range
        images = (images.astype("float32") - low) / (high - low) * 255
    if y_true is not None:
        y_true = convert_to_numpy(y_true)
    if y_pred is not None:
        y_pred = convert_to_numpy(y_pred)

    fig, axes = plt.subplots(
        nrows=rows,
        ncols=cols,
        figsize=(cols * scale, rows * scale),
        frameon=False,
        layout="tight",
        squeeze=False,
        sharex="row",
        sharey="col",
    )
    fig.subplots_adjust(wspace=0, hspace=0)
    if legend_handles is not None:
        fig.legend(handles=legend_handles, loc="lower center")
    for index, axis in enumerate(axes.reshape(-1)):
        axis.axis("off")
        if index >= len(images):
            continue
        image = images[index].astype("uint8")
        if image.shape[-1] == 1:
            axis.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
        else:
            axis.imshow(image)
        axis.margins(x=0, y=0)
        title = []
        if y_true is not None and index < len(y_true):
            title.append(f"Label: {label_map.get(_key(y_true[index]), 'Unknown')}")
        if y_pred is not None and index < len(y_pred):
            title.append(f"Pred: {label_map.get(_key(y_pred[index]), 'Unknown')}")
        if title:
            axis.set_title("  ".join(title), fontsize=8)

    if path is not None:
        fig.savefig(
            path, pad_inches=0, bbox_inches="tight", transparent=transparent, dpi=dpi
        )
        plt.close(fig)
    elif show:
        plt.show()
        plt.close(fig)


def _key(value):
    """A label as a dict key: NumPy scalars become Python ones."""
    return value.item() if isinstance(value, np.generic) else value
