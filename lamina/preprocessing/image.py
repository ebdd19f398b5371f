"""lamina.preprocessing.image: `keras.preprocessing.image`.

The PIL conversions are those of `lamina.utils`; `smart_resize` resizes
without distorting the aspect ratio.
"""

import numpy as np

from lamina.ops import image as image_ops
from lamina.utils.image_utils import array_to_img, img_to_array, load_img, save_img


def smart_resize(
    x,
    size,
    interpolation: str = "bilinear",
    data_format: str = "channels_last",
    backend_module=None,
):
    """Resizes images to `size` after cropping them to its aspect ratio.

    The largest centred crop of `x` whose height/width ratio is that of
    `size` is taken first, then resized to `size`, so nothing is stretched:
    a `(340, 500)` image resized to `(200, 200)` keeps its central
    `(340, 340)` square. This is `ops.image.resize(...,
    crop_to_aspect_ratio=True)`.

    Args:
        x: One image `(height, width, channels)` or a batch
            `(batch, height, width, channels)` (channels first with
            `data_format="channels_first"`), a NumPy array or a tensor.
        size: Target `(height, width)`, two positive ints.
        interpolation: `"bilinear"`, `"nearest"`, `"bicubic"`, `"lanczos3"`
            or `"lanczos5"`. Defaults to `"bilinear"`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `"channels_last"`.
        backend_module: Accepted for Keras compatibility and ignored: lamina
            has one backend.

    Returns:
        The resized images, a NumPy array for a NumPy input, else a tensor.

    Raises:
        ValueError: When `size` is not two ints or `x` is not of rank 3 or 4.

    Example:
    >>> img = np.zeros((340, 500, 3), "float32")
    >>> lamina.preprocessing.image.smart_resize(img, (200, 200)).shape
    (200, 200, 3)
    """
    del backend_module
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(
            "smart_resize expects `size` as (height, width), two ints; got "
            f"size={size!r}."
        )
    rank = len(np.shape(x))
    if rank not in (3, 4):
        raise ValueError(
            "smart_resize expects an image (height, width, channels) or a batch "
            f"(batch, height, width, channels); got shape {tuple(np.shape(x))}."
        )
    out = image_ops.resize(
        x,
        tuple(size),
        interpolation=interpolation,
        crop_to_aspect_ratio=True,
        data_format=data_format,
    )
    if isinstance(x, np.ndarray):
        return out.detach().cpu().numpy()
    return out


__all__ = ["array_to_img", "img_to_array", "load_img", "save_img", "smart_resize"]
