"""Images as PIL objects and arrays: `load_img`, `save_img`, `img_to_array`,
`array_to_img` (`keras.utils`). They need Pillow: `pip install "lamina[image]"`."""

import io
import pathlib
import warnings

import numpy as np

from lamina.backend import config

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")
_COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}


def _pil(who: str):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            f"{who} needs Pillow, which is not installed. Install it with "
            '`pip install "lamina[image]"` (or `pip install pillow`).'
        ) from None
    return Image


def _data_format(data_format, who: str) -> str:
    if data_format is None:
        return config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{who} expects `data_format` to be 'channels_last' (height, width, "
            "channels) or 'channels_first' (channels, height, width); got "
            f"data_format={data_format!r}."
        )
    return data_format


def array_to_img(x, data_format=None, scale: bool = True, dtype=None):
    """A PIL image from a rank-3 array (a single image).

    Args:
        x: Array-like of shape `(height, width, channels)` (or channels first),
            with 1 (grayscale), 3 (RGB) or 4 (RGBA) channels.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.
        scale: Whether to stretch the values to span 0-255 first. Defaults to
            `True`.
        dtype: Dtype of the intermediate array. Defaults to `floatx()`.

    Returns:
        A `PIL.Image.Image` of mode `"L"` (`"I"` for unscaled grayscale above
        255), `"RGB"` or `"RGBA"`.

    Raises:
        ValueError: `x` is not rank 3 or has another number of channels.
    """
    image_module = _pil("array_to_img")
    data_format = _data_format(data_format, "array_to_img")
    x = np.asarray(x, dtype=dtype or config.floatx())
    if x.ndim != 3:
        raise ValueError(
            "array_to_img expects one image: an array of rank 3, (height, width, "
            f"channels); got shape {x.shape}. Index a batch, e.g. x[0]."
        )
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        peak = np.max(x)
        if peak != 0:
            x = x / peak
        x = x * 255
    channels = x.shape[2]
    if channels in (3, 4):
        return image_module.fromarray(
            x.astype("uint8"), "RGB" if channels == 3 else "RGBA"
        )
    if channels == 1:
        if np.max(x) > 255:
            return image_module.fromarray(x[:, :, 0].astype("int32"), "I")
        return image_module.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(
        "array_to_img expects 1 (grayscale), 3 (RGB) or 4 (RGBA) channels; got "
        f"an image of shape {x.shape} with {channels} channels."
    )


def img_to_array(img, data_format=None, dtype=None) -> np.ndarray:
    """A rank-3 NumPy array from a PIL image (or any 2-D/3-D array-like).

    Args:
        img: A PIL image.
        data_format: `"channels_last"` gives `(height, width, channels)`,
            `"channels_first"` `(channels, height, width)`. Defaults to
            `image_data_format()`.
        dtype: Defaults to `floatx()`.

    Returns:
        The pixel values (0-255 for 8-bit images), grayscale with a channel
        axis of size 1.

    Raises:
        ValueError: An image that is neither 2-D nor 3-D.
    """
    data_format = _data_format(data_format, "img_to_array")
    x = np.asarray(img, dtype=dtype or config.floatx())
    if x.ndim == 2:
        x = x[np.newaxis] if data_format == "channels_first" else x[..., np.newaxis]
    elif x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    else:
        raise ValueError(
            "img_to_array expects an image of rank 2 (grayscale) or 3 (height, "
            f"width, channels); got shape {x.shape}."
        )
    return x


def save_img(path, x, data_format=None, file_format=None, scale: bool = True, **kwargs):
    """Write the image array `x` to `path` (a path or a file object).

    Args:
        path: Where to write. For a file object pass `file_format`.
        x: An array `array_to_img` accepts.
        data_format: See `array_to_img`.
        file_format: `"png"`, `"jpeg"`, ... Defaults to the path's extension.
        scale: See `array_to_img`. Defaults to `True`.
        **kwargs: Passed to `PIL.Image.Image.save` (e.g. `quality=90`).

    RGBA images saved as JPEG lose their alpha channel, with a warning.
    """
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower() or None
    if file_format is not None and file_format.lower() == "jpg":
        file_format = "jpeg"
    image = array_to_img(x, data_format=data_format, scale=scale)
    if image.mode == "RGBA" and file_format == "jpeg":
        warnings.warn(
            "save_img: JPEG cannot store an alpha channel; saving the RGBA "
            "image as RGB. Save as PNG to keep transparency.",
            stacklevel=2,
        )
        image = image.convert("RGB")
    image.save(path, format=file_format, **kwargs)


def load_img(
    path,
    color_mode: str = "rgb",
    target_size=None,
    interpolation: str = "nearest",
    keep_aspect_ratio: bool = False,
):
    """Read an image file into a PIL image.

    Args:
        path: A path (str, bytes or `pathlib.Path`) or an `io.BytesIO`.
        color_mode: `"rgb"`, `"rgba"` or `"grayscale"`. Defaults to `"rgb"`.
        target_size: `(height, width)` to resize to, or `None` for the file's
            size. Defaults to `None`.
        interpolation: Resampling filter for resizing: `"nearest"`,
            `"bilinear"`, `"bicubic"`, `"hamming"`, `"box"` or `"lanczos"`.
            Defaults to `"nearest"`.
        keep_aspect_ratio: Crop the largest centred region of the target's
            aspect ratio before resizing, instead of stretching. Defaults to
            `False`.

    Returns:
        A `PIL.Image.Image`; `img_to_array` turns it into an array.

    Raises:
        TypeError: `path` is neither path-like nor a BytesIO.
        ValueError: An unknown `color_mode` or `interpolation`.
    """
    image_module = _pil("load_img")
    if color_mode not in _COLOR_MODES:
        raise ValueError(
            f"load_img expects color_mode to be one of {list(_COLOR_MODES)}; got "
            f"color_mode={color_mode!r}."
        )
    if isinstance(path, io.BytesIO):
        image = image_module.open(path)
    elif isinstance(path, (str, bytes, pathlib.Path)):
        with open(path, "rb") as f:
            image = image_module.open(io.BytesIO(f.read()))
    else:
        raise TypeError(
            "load_img expects `path` to be a path (str, bytes, pathlib.Path) or an "
            f"io.BytesIO; got {type(path).__name__}."
        )
    if color_mode == "grayscale":
        # 16- and 32-bit grayscale stay as they are, as in Keras.
        if image.mode not in ("L", "I;16", "I"):
            image = image.convert("L")
    elif image.mode != _COLOR_MODES[color_mode]:
        image = image.convert(_COLOR_MODES[color_mode])
    if target_size is None:
        return image
    height, width = target_size
    if image.size == (width, height):
        return image
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"load_img expects interpolation to be one of {list(_INTERPOLATIONS)}; "
            f"got interpolation={interpolation!r}."
        )
    resample = getattr(image_module.Resampling, interpolation.upper())
    box = None
    if keep_aspect_ratio:
        w, h = image.size
        crop_w = min(w, h * width // height)
        crop_h = min(h, w * height // width)
        left, top = (w - crop_w) // 2, (h - crop_h) // 2
        box = (left, top, left + crop_w, top + crop_h)
    return image.resize((width, height), resample, box=box)
