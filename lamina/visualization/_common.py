"""What the drawing and plotting functions share: optional packages imported
on first use, data formats, and arrays from tensors."""

import numpy as np

from lamina.backend import config
from lamina.backend.tensors import convert_to_numpy


def pyplot(who: str):
    """`matplotlib.pyplot`, or an ImportError naming lamina's `plot` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            f"{who} needs matplotlib, which is not installed. Install it with "
            '`pip install "lamina[plot]"` (or `pip install matplotlib`).'
        ) from None
    return plt


def pil(who: str):
    """Pillow's `(Image, ImageDraw, ImageFont)`, or an ImportError naming
    lamina's `image` extra."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise ImportError(
            f"{who} needs Pillow to draw label text, which is not installed. "
            'Install it with `pip install "lamina[image]"` (or `pip install '
            "pillow`), or pass no `class_mapping` to draw boxes only."
        ) from None
    return Image, ImageDraw, ImageFont


def data_format(value, who: str) -> str:
    if value is None:
        return config.image_data_format()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{who} expects `data_format` to be 'channels_last' or "
            f"'channels_first'; got data_format={value!r}."
        )
    return value


def batch_of_images(images, who: str) -> np.ndarray:
    """`images` as a NumPy array, which must be a batch (rank 4)."""
    images = convert_to_numpy(images)
    if images.ndim != 4:
        raise ValueError(
            f"{who} expects a batch of images of rank 4, (batch, height, width, "
            f"channels); got shape {images.shape}. Add a batch axis with "
            "images[None] for a single image."
        )
    return images


def to_channels_last(images: np.ndarray, fmt: str) -> np.ndarray:
    return images.transpose(0, 2, 3, 1) if fmt == "channels_first" else images


def to_format(images: np.ndarray, fmt: str) -> np.ndarray:
    """A channels-last batch back in `fmt`."""
    return images.transpose(0, 3, 1, 2) if fmt == "channels_first" else images
