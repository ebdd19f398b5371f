"""Image ops (`keras.ops.image`): resizing, affine warps, crops and pads,
colour-space conversions, patch extraction and `map_coordinates`.

Images are `(batch, height, width, channels)` or a single
`(height, width, channels)` image (`data_format="channels_last"`, the default
of `image_data_format()`), or channels first. Resizing and affine warps run the
torch code of the preprocessing layers (`Resizing`, the random affine layers).
"""

import functools
import itertools
import operator

import torch

from lamina.layers.convolutional import _conv_utils as U
from lamina.layers.preprocessing import _base_image_layer
from lamina.layers.preprocessing.resizing import resize_images
from lamina.ops._utils import Tensor, to_tensor
from lamina.ops.nn.convolution import conv
from lamina.ops.operation import op

_RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic")
_AFFINE_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _images(name: str, images, data_format):
    """`(images as a batch, data_format, whether a batch axis was added)`."""
    x = to_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"ops.image.{name} expects images of rank 3 (one image) or 4 (a "
            f"batch); got shape {tuple(x.shape)}."
        )
    df = U.standardize_data_format(data_format, f"ops.image.{name}")
    return (x.unsqueeze(0), df, True) if x.ndim == 3 else (x, df, False)


def _unbatch(x: Tensor, added: bool) -> Tensor:
    return x.squeeze(0) if added else x


def _height_width(x: Tensor, df: str) -> tuple:
    return (x.shape[1], x.shape[2]) if df == "channels_last" else x.shape[2:4]


@op
def resize(
    images,
    size,
    interpolation: str = "bilinear",
    antialias: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    fill_mode: str = "constant",
    fill_value: float = 0.0,
    data_format=None,
) -> Tensor:
    """Images resized to `size = (height, width)` with `interpolation`
    (`"bilinear"`, `"nearest"` or `"bicubic"`), optionally first cropped or
    padded (with `fill_value`) to the target aspect ratio."""
    x, df, added = _images("resize", images, data_format)
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(U.is_int(s) and s > 0 for s in size)
    ):
        raise ValueError(
            "ops.image.resize expects `size` as (height, width), two positive "
            f"ints; got size={size!r}."
        )
    if interpolation not in _RESIZE_INTERPOLATIONS:
        raise ValueError(
            f"ops.image.resize expects interpolation in {_RESIZE_INTERPOLATIONS}; "
            f"got interpolation={interpolation!r}."
        )
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            "ops.image.resize accepts crop_to_aspect_ratio or pad_to_aspect_ratio, "
            "not both; got both True."
        )
    if fill_mode != "constant":
        raise ValueError(
            f"ops.image.resize supports fill_mode='constant' only, as Keras; got "
            f"fill_mode={fill_mode!r}."
        )
    out = resize_images(
        x,
        tuple(size),
        interpolation=interpolation,
        antialias=antialias,
        crop_to_aspect_ratio=crop_to_aspect_ratio,
        pad_to_aspect_ratio=pad_to_aspect_ratio,
        fill_value=fill_value,
        data_format=df,
    )
    return _unbatch(out, added)


@op
def affine_transform(
    images,
    transform,
    interpolation: str = "bilinear",
    fill_mode: str = "constant",
    fill_value=0,
    data_format=None,
) -> Tensor:
    """Images warped by projective transforms `[a0, a1, a2, b0, b1, b2, c0, c1]`
    (one of shape `(8,)` or one per image `(batch, 8)`): output pixel `(x, y)`
    reads the input at `(a0 x + a1 y + a2, b0 x + b1 y + b2)` (the `c` terms
    are ignored, as in Keras's torch backend). `interpolation` is `"nearest"`
    or `"bilinear"`; `fill_mode` one of `"constant"` (with `fill_value`),
    `"nearest"`, `"wrap"`, `"mirror"`, `"reflect"`."""
    x, df, added = _images("affine_transform", images, data_format)
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(
            "ops.image.affine_transform expects interpolation='nearest' or "
            f"'bilinear'; got interpolation={interpolation!r}."
        )
    if fill_mode not in _AFFINE_FILL_MODES:
        raise ValueError(
            f"ops.image.affine_transform expects fill_mode in {_AFFINE_FILL_MODES}; "
            f"got fill_mode={fill_mode!r}."
        )
    transform = to_tensor(transform, device=x.device)
    if transform.ndim not in (1, 2) or transform.shape[-1] != 8:
        raise ValueError(
            "ops.image.affine_transform expects `transform` of shape (8,) or "
            f"(batch, 8); got shape {tuple(transform.shape)}."
        )
    if transform.ndim == 1:
        transform = transform.unsqueeze(0).expand(x.shape[0], 8)
    out = _base_image_layer.affine_transform(
        x, transform, interpolation, fill_mode, fill_value, data_format=df
    )
    return _unbatch(out, added)


def _two_of_three(name: str, first, second, target, what: str):
    if [first, second, target].count(None) != 1:
        raise ValueError(
            f"ops.image.{name} expects exactly two of {what}; got "
            f"{first!r}, {second!r}, {target!r}."
        )
    for value in (first, second, target):
        if value is not None and (not U.is_int(value) or value < 0):
            raise ValueError(
                f"ops.image.{name} expects non-negative ints for {what}; got "
                f"{first!r}, {second!r}, {target!r}."
            )


@op
def pad_images(
    images,
    top_padding=None,
    left_padding=None,
    bottom_padding=None,
    right_padding=None,
    target_height=None,
    target_width=None,
    data_format=None,
) -> Tensor:
    """Images padded with zeros; give two of (top, bottom, target_height) and
    two of (left, right, target_width)."""
    x, df, added = _images("pad_images", images, data_format)
    _two_of_three(
        "pad_images",
        top_padding,
        bottom_padding,
        target_height,
        "top_padding, bottom_padding, target_height",
    )
    _two_of_three(
        "pad_images",
        left_padding,
        right_padding,
        target_width,
        "left_padding, right_padding, target_width",
    )
    height, width = _height_width(x, df)
    top = (
        target_height - bottom_padding - height if top_padding is None else top_padding
    )
    bottom = target_height - top - height if bottom_padding is None else bottom_padding
    left = (
        target_width - right_padding - width if left_padding is None else left_padding
    )
    right = target_width - left - width if right_padding is None else right_padding
    if min(top, bottom, left, right) < 0:
        raise ValueError(
            "ops.image.pad_images: the target size is smaller than the images "
            f"({height}x{width}); got paddings top={top}, bottom={bottom}, "
            f"left={left}, right={right}."
        )
    if df == "channels_last":
        pads = (0, 0, left, right, top, bottom)
    else:
        pads = (left, right, top, bottom)
    return _unbatch(torch.nn.functional.pad(x, pads), added)


@op
def crop_images(
    images,
    top_cropping=None,
    left_cropping=None,
    bottom_cropping=None,
    right_cropping=None,
    target_height=None,
    target_width=None,
    data_format=None,
) -> Tensor:
    """Images cropped; give two of (top, bottom, target_height) and two of
    (left, right, target_width)."""
    x, df, added = _images("crop_images", images, data_format)
    _two_of_three(
        "crop_images",
        top_cropping,
        bottom_cropping,
        target_height,
        "top_cropping, bottom_cropping, target_height",
    )
    _two_of_three(
        "crop_images",
        left_cropping,
        right_cropping,
        target_width,
        "left_cropping, right_cropping, target_width",
    )
    height, width = _height_width(x, df)
    top = (
        height - target_height - bottom_cropping
        if top_cropping is None
        else top_cropping
    )
    if target_height is None:
        target_height = height - bottom_cropping - top
    left = (
        width - target_width - right_cropping
        if left_cropping is None
        else left_cropping
    )
    if target_width is None:
        target_width = width - right_cropping - left
    if min(top, left, target_height, target_width) < 0 or (
        top + target_height > height or left + target_width > width
    ):
        raise ValueError(
            f"ops.image.crop_images: the crop does not fit in {height}x{width} "
            f"images; got top={top}, left={left}, target_height={target_height}, "
            f"target_width={target_width}."
        )
    rows, cols = slice(top, top + target_height), slice(left, left + target_width)
    out = x[:, rows, cols] if df == "channels_last" else x[:, :, rows, cols]
    return _unbatch(out, added)


def _channel_axis(df: str) -> int:
    return -1 if df == "channels_last" else -3


@op
def rgb_to_grayscale(images, data_format=None) -> Tensor:
    """Luma `0.2989 R + 0.587 G + 0.114 B`, keeping a channels axis of size 1
    (1-channel images are returned as a copy)."""
    x = to_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(
            "ops.image.rgb_to_grayscale expects images of rank 3 or 4; got shape "
            f"{tuple(x.shape)}."
        )
    axis = _channel_axis(U.standardize_data_format(data_format, "rgb_to_grayscale"))
    if x.shape[axis] not in (1, 3):
        raise ValueError(
            "ops.image.rgb_to_grayscale expects 3 (RGB) or 1 channels; got shape "
            f"{tuple(x.shape)}."
        )
    if x.shape[axis] == 1:
        return x.clone()
    r, g, b = x.unbind(dim=axis)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(x.dtype).unsqueeze(axis)


def _float_images(name: str, images, data_format):
    x = to_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"ops.image.{name} expects images of rank 3 or 4; got shape "
            f"{tuple(x.shape)}."
        )
    if not x.is_floating_point():
        raise ValueError(f"ops.image.{name} expects float images; got dtype {x.dtype}.")
    axis = _channel_axis(U.standardize_data_format(data_format, f"ops.image.{name}"))
    if x.shape[axis] != 3:
        raise ValueError(
            f"ops.image.{name} expects 3 channels; got shape {tuple(x.shape)}."
        )
    return x, axis


@op
def rgb_to_hsv(images, data_format=None) -> Tensor:
    """RGB in [0, 1] to HSV (hue, saturation, value in [0, 1])."""
    x, axis = _float_images("rgb_to_hsv", images, data_format)
    x = torch.where(torch.abs(x) < torch.finfo(x.dtype).eps, 0.0, x)
    r, g, b = x.unbind(dim=axis)
    value = torch.maximum(torch.maximum(r, g), b)
    spread = value - torch.minimum(torch.minimum(r, g), b)
    saturation = torch.where(
        value > 0, spread / torch.where(value > 0, value, 1.0), 0.0
    )
    norm = 1.0 / (6.0 * torch.where(spread > 0, spread, 1.0))
    hue = torch.where(
        value == g, norm * (b - r) + 2.0 / 6.0, norm * (r - g) + 4.0 / 6.0
    )
    hue = torch.where(value == r, norm * (g - b), hue)
    hue = torch.where(spread > 0, hue, 0.0) + (hue < 0.0).to(hue.dtype)
    return torch.stack((hue, saturation, value), dim=axis)


@op
def hsv_to_rgb(images, data_format=None) -> Tensor:
    """HSV (all in [0, 1]) to RGB, the inverse of `rgb_to_hsv`."""
    x, axis = _float_images("hsv_to_rgb", images, data_format)
    hue, saturation, value = x.unbind(dim=axis)
    sector = torch.remainder(hue, 1.0) * 6.0
    dr = torch.clamp(torch.abs(sector - 3.0) - 1.0, 0.0, 1.0)
    dg = torch.clamp(2.0 - torch.abs(sector - 2.0), 0.0, 1.0)
    db = torch.clamp(2.0 - torch.abs(sector - 4.0), 0.0, 1.0)
    grey = 1.0 - saturation
    planes = [value * (grey + saturation * d) for d in (dr, dg, db)]
    return torch.stack(planes, dim=axis)


@op
def extract_patches(
    images,
    size,
    strides=None,
    dilation_rate=1,
    padding: str = "valid",
    data_format=None,
) -> Tensor:
    """Patches of `size` (an int or `(height, width)`) every `strides`
    (defaults to `size`) pixels, each flattened (row, column, channel) into the
    channels axis: `(batch, rows, cols, ph * pw * channels)`."""
    x, df, added = _images("extract_patches", images, data_format)
    size = U.standardize_tuple(size, 2, "size", "ops.image.extract_patches")
    strides = size if strides is None else strides
    channels = x.shape[-1] if df == "channels_last" else x.shape[1]
    depth = size[0] * size[1] * channels
    # A convolution with an identity kernel copies each patch into the channels.
    kernel = torch.eye(depth, dtype=x.dtype if x.is_floating_point() else torch.float32)
    kernel = kernel.to(x.device).reshape(size[0], size[1], channels, depth)
    out = conv(x, kernel, strides, padding, df, dilation_rate)
    return _unbatch(out, added)


def _mirror(index: Tensor, size: int) -> Tensor:
    # Reflection about the first and last pixel centres (period 2 (size - 1)).
    if size == 1:
        return torch.zeros_like(index)
    span = size - 1
    return torch.abs(torch.remainder(index + span, 2 * span) - span)


def _reflect(index: Tensor, size: int) -> Tensor:
    # Reflection about the image edges: mirror in a doubled, half-pixel grid.
    return torch.div(_mirror(2 * index + 1, 2 * size + 1) - 1, 2, rounding_mode="floor")


_INDEX_MAPS = {
    "constant": lambda index, size: torch.clamp(index, 0, size - 1),
    "nearest": lambda index, size: torch.clamp(index, 0, size - 1),
    "wrap": lambda index, size: torch.remainder(index, size),
    "mirror": _mirror,
    "reflect": _reflect,
}


@op
def map_coordinates(
    inputs, coordinates, order: int, fill_mode: str = "constant", fill_value=0
) -> Tensor:
    """`inputs` sampled at `coordinates` (shape `(inputs.ndim, ...)`: one array
    of positions per axis) by nearest (`order=0`) or linear (`order=1`)
    interpolation; positions outside follow `fill_mode` (`"constant"` with
    `fill_value`, `"nearest"`, `"wrap"`, `"mirror"`, `"reflect"`)."""
    x = to_tensor(inputs)
    coords = [to_tensor(c, device=x.device) for c in coordinates]
    if len(coords) != x.ndim:
        raise ValueError(
            "ops.image.map_coordinates expects one coordinate array per axis of "
            f"`inputs` ({x.ndim}); got {len(coords)}."
        )
    if coords and coords[0].ndim < 1:
        raise ValueError(
            "ops.image.map_coordinates expects `coordinates` of rank >= 2 "
            f"(inputs.ndim, ...); got shape ({len(coords)},)."
        )
    if fill_mode not in _INDEX_MAPS:
        raise ValueError(
            f"ops.image.map_coordinates expects fill_mode in {tuple(_INDEX_MAPS)}; "
            f"got fill_mode={fill_mode!r}."
        )
    if order not in (0, 1):
        raise ValueError(
            f"ops.image.map_coordinates supports order 0 or 1; got order={order!r}."
        )
    fix = _INDEX_MAPS[fill_mode]
    per_axis = []
    for c, size in zip(coords, x.shape):
        if order == 0:
            c = c if not c.is_floating_point() else torch.round(c)
            nodes = [(c.to(torch.int64), 1)]
        else:
            lower = torch.floor(c.to(torch.float32) if not c.is_floating_point() else c)
            upper_weight = c - lower
            index = lower.to(torch.int64)
            nodes = [(index, 1 - upper_weight), (index + 1, upper_weight)]
        per_axis.append([(fix(i, size), (i >= 0) & (i < size), w) for i, w in nodes])
    result = 0
    for corner in itertools.product(*per_axis):
        indices, valid, weights = zip(*corner)
        value = x[indices]
        if fill_mode == "constant":
            value = torch.where(
                functools.reduce(operator.and_, valid), value, fill_value
            )
        result = result + functools.reduce(operator.mul, weights) * value
    if not x.is_floating_point():
        result = result if not result.is_floating_point() else torch.round(result)
    return result.to(x.dtype)


__all__ = [
    "affine_transform",
    "crop_images",
    "extract_patches",
    "hsv_to_rgb",
    "map_coordinates",
    "pad_images",
    "resize",
    "rgb_to_grayscale",
    "rgb_to_hsv",
]
