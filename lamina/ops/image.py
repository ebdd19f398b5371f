"""Image ops (`keras.ops.image`): resizing, affine, perspective and elastic
warps, crops and pads, colour-space conversions, blurs and edges, SSIM, patch
extraction, `scale_and_translate` and `map_coordinates`.

Images are `(batch, height, width, channels)` or a single
`(height, width, channels)` image (`data_format="channels_last"`, the default
of `image_data_format()`), or channels first. Resizing and affine warps run the
torch code of the preprocessing layers (`Resizing`, the random affine layers).
"""

import functools
import itertools
import numbers
import operator

import torch
import torch.nn.functional as F

from lamina import random
from lamina.backend.shape_inference import inferring
from lamina.layers.convolutional import _conv_utils as U
from lamina.layers.preprocessing import _base_image_layer
from lamina.layers.preprocessing.resizing import resize_images
from lamina.ops._utils import Tensor, to_tensor
from lamina.ops.nn.convolution import conv
from lamina.ops.operation import op

_RESIZE_INTERPOLATIONS = (
    "bilinear",
    "nearest",
    "bicubic",
    "lanczos3",
    "lanczos5",
    "area",
)
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
    """Images resized to `size = (height, width)` with `interpolation`, optionally
    first cropped or padded (with `fill_value`) to the target aspect ratio.

    `"bilinear"`, `"nearest"` and `"bicubic"` give the numbers of Keras's torch
    backend. `"lanczos3"` and `"lanczos5"` (which Keras's torch backend rejects)
    follow its JAX backend (`jax.image.resize`: Lanczos kernels, widened when
    `antialias` and downsampling), and `"area"` follows its TensorFlow backend
    (each output pixel averages the input area it covers; `antialias` has no
    effect). Integer images are computed in float32, rounded and cast back."""
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
    if interpolation in ("lanczos3", "lanczos5", "area"):
        out = _resize_by_weights(
            x,
            tuple(size),
            interpolation,
            antialias,
            crop_to_aspect_ratio,
            pad_to_aspect_ratio,
            fill_value,
            df,
        )
        return _unbatch(out, added)
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


def _fit_aspect_ratio(x: Tensor, size, crop: bool, pad: bool, fill_value, df):
    """`x` centre-cropped or evenly padded to the aspect ratio of `size`, with
    the integer arithmetic of `resize_images` (and of Keras)."""
    height, width = _height_width(x, df)
    target_h, target_w = size
    rows, cols = (1, 2) if df == "channels_last" else (2, 3)
    if crop:
        crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
        crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
        top = int(float(height - crop_h) / 2)
        left = int(float(width - crop_w) / 2)
        return x.narrow(rows, top, crop_h).narrow(cols, left, crop_w)
    if pad:
        pad_h = max(height, int(float(width * target_h) / target_w))
        pad_w = max(width, int(float(height * target_w) / target_h))
        top, left = int(float(pad_h - height) / 2), int(float(pad_w - width) / 2)
        # F.pad lists the last axis first: channels (if last), width, height.
        pads = ((0, 0) if df == "channels_last" else ()) + (left, left, top, top)
        return F.pad(x, pads, value=float(fill_value))
    return x


def _area_weights(in_size: int, out_size: int, dtype, device) -> Tensor:
    """`(in_size, out_size)` weights: output pixel `o` covers the input span
    `[o s, (o + 1) s)` with `s = in_size / out_size`, and each input pixel is
    weighted by its overlap with that span, divided by `s` (TensorFlow's
    `resize_area`)."""
    scale = in_size / out_size
    start = torch.arange(out_size, dtype=dtype, device=device) * scale
    pixel = torch.arange(in_size, dtype=dtype, device=device)[:, None]
    overlap = torch.minimum(pixel + 1, start + scale) - torch.maximum(pixel, start)
    return torch.clamp(overlap, min=0.0) / scale


def _resize_by_weights(
    x, size, interpolation, antialias, crop, pad, fill_value, df
) -> Tensor:
    """Lanczos and area resizing: one weight matrix per spatial axis."""
    out_dtype = x.dtype
    if out_dtype not in (torch.float32, torch.float64):
        x = x.to(torch.float32)
    x = _fit_aspect_ratio(x, size, crop, pad, fill_value, df)
    axes = (1, 2) if df == "channels_last" else (2, 3)
    for axis, out_size in zip(axes, size):
        in_size = x.shape[axis]
        if in_size == out_size:
            continue  # both kernels interpolate: the identity warp is exact
        if interpolation == "area":
            weights = _area_weights(in_size, out_size, x.dtype, x.device)
        else:
            weights = _weight_matrix(
                in_size,
                out_size,
                torch.tensor(out_size / in_size, dtype=x.dtype, device=x.device),
                torch.zeros((), dtype=x.dtype, device=x.device),
                _SCALE_KERNELS[interpolation],
                antialias,
            )
        x = torch.movedim(torch.tensordot(x, weights, dims=([axis], [0])), -1, axis)
    if out_dtype != x.dtype:
        if not out_dtype.is_floating_point:
            # Keras rounds and saturates integer results.
            info = torch.iinfo(out_dtype)
            x = torch.clamp(torch.round(x), info.min, info.max)
        x = x.to(out_dtype)
    return x


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
    channels axis: `(batch, rows, cols, ph * pw * channels)`. A size of three
    ints extracts from volumes, as `extract_patches_3d`."""
    if isinstance(size, (tuple, list)) and len(size) == 3:
        # Keras: a 3-long size extracts from volumes.
        return extract_patches_3d(
            images, size, strides, dilation_rate, padding, data_format
        )
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


# New warps, filters and measures.


def _channels_last(x: Tensor, df: str) -> Tensor:
    return x if df == "channels_last" else x.permute(0, 2, 3, 1)


def _from_channels_last(x: Tensor, df: str) -> Tensor:
    return x if df == "channels_last" else x.permute(0, 3, 1, 2)


def _compute_dtype(x: Tensor) -> torch.dtype:
    # Half precision and integers are filtered in float32, then cast back.
    return x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32


def _cast_back(x: Tensor, dtype: torch.dtype) -> Tensor:
    if x.dtype == dtype:
        return x
    return (x if dtype.is_floating_point else torch.round(x)).to(dtype)


def _check_interpolation(name: str, interpolation) -> None:
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(
            f"ops.image.{name} expects interpolation='nearest' or 'bilinear'; "
            f"got interpolation={interpolation!r}."
        )


def _sample(x: Tensor, rows: Tensor, cols: Tensor, order: int, fill_mode, fill_value):
    """`(batch, height, width, channels)` images read at float positions `rows`,
    `cols` (each `(batch, h, w)`), as `map_coordinates` reads each image and
    channel: nearest (`order=0`) or bilinear (`order=1`), outside positions
    handled by `fill_mode`."""
    height, width = x.shape[1], x.shape[2]
    fix = _INDEX_MAPS[fill_mode]
    if not x.is_floating_point() and isinstance(fill_value, (int, float)):
        fill_value = int(fill_value)
    batch = torch.arange(x.shape[0], device=x.device).view(-1, 1, 1)

    def nodes(position):
        if order == 0:
            return [(torch.round(position).to(torch.int64), None)]
        lower = torch.floor(position)
        upper_weight = position - lower
        index = lower.to(torch.int64)
        return [(index, 1 - upper_weight), (index + 1, upper_weight)]

    result = 0
    for (row, row_w), (col, col_w) in itertools.product(nodes(rows), nodes(cols)):
        value = x[batch, fix(row, height), fix(col, width)]
        if fill_mode == "constant":
            inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
            value = torch.where(inside.unsqueeze(-1), value, fill_value)
        if order == 1:
            value = (row_w * col_w).unsqueeze(-1) * value
        result = result + value
    return _cast_back(result, x.dtype)


def _gaussian_1d(size: int, sigma, dtype, device) -> Tensor:
    offsets = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


def _depthwise(x: Tensor, kernel: Tensor, same: bool) -> Tensor:
    """`(batch, channels, h, w)` filtered channel by channel with the 2D
    `kernel`; `same` zero-pads as XLA's "SAME" (the extra row or column of an
    even kernel goes after)."""
    kh, kw = kernel.shape
    if same:
        x = F.pad(x, ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2))
    channels = x.shape[1]
    return F.conv2d(x, kernel.expand(channels, 1, kh, kw), groups=channels)


def _pair(name: str, value, what: str, check) -> tuple:
    if isinstance(value, Tensor):
        value = value.tolist()
    try:
        items = tuple(value)
    except TypeError:
        items = ()
    if len(items) != 2 or not all(check(v) for v in items):
        raise ValueError(f"ops.image.{name} expects {what}; got {value!r}.")
    return items


@op
def gaussian_blur(
    images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None
) -> Tensor:
    """Blurs images with a Gaussian kernel, channel by channel.

    The borders are zero-padded so the output keeps the input's size. As in
    Keras (whose backends read the pairs this way), `kernel_size[0]` and
    `sigma[0]` shape the kernel along the width and `kernel_size[1]` and
    `sigma[1]` along the height; for even sizes the padding follows Keras's JAX
    backend ("SAME").

    Args:
        images: One image (rank 3) or a batch (rank 4).
        kernel_size: Two positive ints, the kernel's extent. Defaults to
            `(3, 3)`.
        sigma: Two positive floats, the Gaussian's standard deviations.
            Defaults to `(1.0, 1.0)`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.

    Returns:
        The blurred images, with the input's shape and dtype (integer images
        are filtered in float32 and rounded).

    Raises:
        ValueError: For images that are not of rank 3 or 4, or a bad
            `kernel_size` or `sigma`.
    """
    x, df, added = _images("gaussian_blur", images, data_format)
    size_x, size_y = _pair(
        "gaussian_blur",
        kernel_size,
        "`kernel_size` as two positive ints",
        lambda v: U.is_int(v) and v > 0,
    )
    sigma_x, sigma_y = _pair(
        "gaussian_blur",
        sigma,
        "`sigma` as two positive floats",
        lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool) and v > 0,
    )
    dtype = _compute_dtype(x)
    kernel = torch.outer(
        _gaussian_1d(size_y, sigma_y, dtype, x.device),
        _gaussian_1d(size_x, sigma_x, dtype, x.device),
    )
    nchw = x.to(dtype) if df == "channels_first" else x.to(dtype).permute(0, 3, 1, 2)
    out = _depthwise(nchw, kernel, same=True)
    out = out if df == "channels_first" else out.permute(0, 2, 3, 1)
    return _unbatch(_cast_back(out, x.dtype), added)


@op
def elastic_transform(
    images,
    alpha: float = 20.0,
    sigma: float = 5.0,
    interpolation: str = "bilinear",
    fill_mode: str = "reflect",
    fill_value=0.0,
    seed=None,
    data_format=None,
) -> Tensor:
    """Deforms images with a smooth random displacement field.

    Two fields of standard normal noise times `sigma` (one for rows, one for
    columns, the same for every channel) are blurred with a Gaussian of
    standard deviation `sigma` (kernel size `int(6 * sigma) | 1`), scaled by
    `alpha`, and each output pixel reads the input at its displaced position.
    `alpha=0` returns the images unchanged.

    Args:
        images: One image (rank 3) or a batch (rank 4).
        alpha: Strength of the displacement. Defaults to `20.0`.
        sigma: Smoothness of the displacement, a positive float. Defaults to
            `5.0`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        fill_mode: How positions outside the image read: `"reflect"` (default),
            `"constant"` (with `fill_value`), `"nearest"`, `"wrap"` or
            `"mirror"`.
        fill_value: The value read outside with `fill_mode="constant"`.
            Defaults to `0.0`.
        seed: An int (the same field every call), a `SeedGenerator` (a new
            field per call, reproducibly) or `None` (torch's global
            generator). Unlike Keras's JAX backend, the row and column fields
            are independent draws.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.

    Returns:
        The deformed images, with the input's shape and dtype.

    Raises:
        ValueError: For images that are not of rank 3 or 4, or a bad
            `sigma`, `interpolation` or `fill_mode`.
    """
    x, df, added = _images("elastic_transform", images, data_format)
    _check_interpolation("elastic_transform", interpolation)
    if fill_mode not in _AFFINE_FILL_MODES:
        raise ValueError(
            f"ops.image.elastic_transform expects fill_mode in "
            f"{_AFFINE_FILL_MODES}; got fill_mode={fill_mode!r}."
        )
    sigma, alpha = float(sigma), float(alpha)
    if not sigma > 0:
        raise ValueError(
            f"ops.image.elastic_transform expects a positive `sigma`; got "
            f"sigma={sigma!r}."
        )
    x = _channels_last(x, df)
    batch, height, width = x.shape[:3]
    dtype = _compute_dtype(x)
    # 1. Noise for rows and columns, smoothed by a Gaussian blur.
    shape = (2 * batch, 1, height, width)
    if inferring():
        # Shape inference: a SeedGenerator is not advanced, as in Keras.
        noise = torch.empty(shape, dtype=dtype, device=x.device)
    else:
        noise = random.normal(shape, dtype=dtype, seed=seed).to(x.device) * sigma
    size = int(6 * sigma) | 1
    kernel = _gaussian_1d(size, sigma, dtype, x.device)
    noise = _depthwise(noise, torch.outer(kernel, kernel), same=True)
    d_rows, d_cols = noise.view(2, batch, height, width)
    # 2. Each output pixel reads the input at its displaced position.
    rows = torch.arange(height, dtype=dtype, device=x.device)[:, None] + alpha * d_rows
    cols = torch.arange(width, dtype=dtype, device=x.device) + alpha * d_cols
    order = 0 if interpolation == "nearest" else 1
    out = _sample(x, rows, cols, order, fill_mode, fill_value)
    return _unbatch(_from_channels_last(out, df), added)


def _corner_points(name: str, points, device) -> Tensor:
    p = to_tensor(points, device=device)
    if p.ndim not in (2, 3) or tuple(p.shape[-2:]) != (4, 2):
        raise ValueError(
            f"ops.image.perspective_transform expects `{name}` of shape (4, 2) "
            f"(four (x, y) corners) or (batch, 4, 2); got shape {tuple(p.shape)}."
        )
    return p if p.ndim == 3 else p.unsqueeze(0)


def _homography(start: Tensor, end: Tensor) -> Tensor:
    """`(n, 8)` projective coefficients mapping each `end` corner onto its
    `start` corner: two linear equations per corner, solved exactly."""
    sx, sy = start.unbind(-1)
    ex, ey = end.unbind(-1)
    one, zero = torch.ones_like(ex), torch.zeros_like(ex)
    x_rows = torch.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], -1)
    y_rows = torch.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], -1)
    matrix = torch.stack([x_rows, y_rows], dim=2).reshape(-1, 8, 8)
    target = torch.stack([sx, sy], dim=2).reshape(-1, 8, 1)
    return torch.linalg.solve(matrix, target).squeeze(-1)


@op
def perspective_transform(
    images,
    start_points,
    end_points,
    interpolation: str = "bilinear",
    fill_value=0,
    data_format=None,
) -> Tensor:
    """Warps images so that the four `start_points` land on the `end_points`.

    Each output pixel `(x, y)` reads the input at the projective map of
    `(x, y)` that sends every end corner to its start corner; positions
    outside the image read `fill_value`.

    Args:
        images: One image (rank 3) or a batch (rank 4).
        start_points: Four `(x, y)` corners in the input, shape `(4, 2)` or
            one set per image `(batch, 4, 2)`.
        end_points: Where those corners go in the output, the same shape as
            `start_points`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        fill_value: The value read outside the image. Defaults to `0`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.

    Returns:
        The warped images, with the input's shape and dtype.

    Raises:
        ValueError: For images that are not of rank 3 or 4, corner points of
            the wrong shape, or a bad `interpolation`.
    """
    x, df, added = _images("perspective_transform", images, data_format)
    _check_interpolation("perspective_transform", interpolation)
    start = _corner_points("start_points", start_points, x.device)
    end = _corner_points("end_points", end_points, x.device)
    if start.shape != end.shape or start.shape[0] not in (1, x.shape[0]):
        raise ValueError(
            "ops.image.perspective_transform expects `start_points` and "
            "`end_points` of the same shape, with one set of corners or one per "
            f"image ({x.shape[0]}); got shapes {tuple(start.shape)} and "
            f"{tuple(end.shape)}."
        )
    # Points are solved in float32 (float64 for float64 images), as in Keras's
    # JAX backend: its torch backend first casts them to the images' dtype.
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    start, end = start.to(x.device, dtype), end.to(x.device, dtype)
    coeffs = _homography(start, end).expand(x.shape[0], 8)
    x = _channels_last(x, df)
    height, width = x.shape[1], x.shape[2]
    grid_y = torch.arange(height, dtype=dtype, device=x.device)[:, None]
    grid_x = torch.arange(width, dtype=dtype, device=x.device)
    a = coeffs[:, :, None, None]
    denom = a[:, 6] * grid_x + a[:, 7] * grid_y + 1.0
    cols = (a[:, 0] * grid_x + a[:, 1] * grid_y + a[:, 2]) / denom
    rows = (a[:, 3] * grid_x + a[:, 4] * grid_y + a[:, 5]) / denom
    order = 0 if interpolation == "nearest" else 1
    out = _sample(x, rows, cols, order, "constant", fill_value)
    return _unbatch(_from_channels_last(out, df), added)


def _triangle(distance: Tensor) -> Tensor:
    return torch.clamp(1 - distance, min=0)


def _keys_cubic(distance: Tensor) -> Tensor:
    # Keys (1981) cubic convolution with a = -0.5, as jax.image.
    near = ((1.5 * distance - 2.5) * distance) * distance + 1.0
    far = ((-0.5 * distance + 2.5) * distance - 4.0) * distance + 2.0
    out = torch.where(distance >= 1.0, far, near)
    return torch.where(distance >= 2.0, 0.0, out)


def _lanczos(radius: float):
    def kernel(distance: Tensor) -> Tensor:
        y = (
            radius
            * torch.sin(torch.pi * distance)
            * torch.sin(torch.pi * distance / radius)
        )
        safe = torch.where(distance != 0, torch.pi**2 * distance**2, 1.0)
        out = torch.where(distance > 1e-3, y / safe, 1.0)
        return torch.where(distance > radius, 0.0, out)

    return kernel


_SCALE_KERNELS = {
    "linear": _triangle,
    "bilinear": _triangle,
    "trilinear": _triangle,
    "triangle": _triangle,
    "cubic": _keys_cubic,
    "bicubic": _keys_cubic,
    "tricubic": _keys_cubic,
    "lanczos3": _lanczos(3.0),
    "lanczos5": _lanczos(5.0),
}


def _weight_matrix(in_size, out_size, scale, translation, kernel, antialias):
    """`(in_size, out_size)` resampling weights along one axis, the scheme of
    `jax.image.scale_and_translate`: output pixel centres mapped back into the
    input, kernel widened by `1 / scale` when antialiasing a downsample, each
    column normalised, and outputs that fall outside the input zeroed."""
    inv_scale = 1.0 / scale
    kernel_scale = torch.clamp(inv_scale, min=1.0) if antialias else 1.0
    dtype, device = inv_scale.dtype, inv_scale.device
    sample = (torch.arange(out_size, dtype=dtype, device=device) + 0.5) * inv_scale
    sample = sample - translation * inv_scale - 0.5
    pixels = torch.arange(in_size, dtype=dtype, device=device)[:, None]
    weights = kernel(torch.abs(sample - pixels) / kernel_scale)
    total = weights.sum(dim=0, keepdim=True)
    # jax: columns whose weights nearly cancel are dropped, not amplified.
    weights = torch.where(
        torch.abs(total) > 1000.0 * torch.finfo(torch.float32).eps,
        weights / torch.where(total != 0, total, 1.0),
        0.0,
    )
    inside = (sample >= -0.5) & (sample <= in_size - 0.5)
    return torch.where(inside, weights, 0.0)


@op
def scale_and_translate(
    images,
    output_shape,
    scale,
    translation,
    spatial_dims,
    method: str,
    antialias: bool = True,
) -> Tensor:
    """Resamples `images` (any rank) onto `output_shape`, scaling and shifting
    the axes named by `spatial_dims`.

    Along spatial axis `spatial_dims[i]`, the input coordinate `u` (pixel
    centres at `index + 0.5`) lands at `u * scale[i] + translation[i]` in the
    output; each output pixel is interpolated from the input by `method`, and
    output pixels that map outside the input are zero. This is
    `jax.image.scale_and_translate`, which Keras's JAX backend calls.

    Args:
        images: A tensor of any rank.
        output_shape: The full output shape, one int per axis of `images`;
            axes not in `spatial_dims` keep their size.
        scale: One positive scale per spatial axis, shape `(K,)`.
        translation: One shift per spatial axis, shape `(K,)`.
        spatial_dims: `K` axes of `images` to resample.
        method: `"linear"` (or `"bilinear"`, `"trilinear"`, `"triangle"`),
            `"cubic"` (or `"bicubic"`, `"tricubic"`: the Keys kernel),
            `"lanczos3"` or `"lanczos5"`.
        antialias: Widen the kernel when downsampling, so that it averages
            rather than skips pixels. Defaults to `True`.

    Returns:
        The resampled tensor of shape `output_shape`: floating images keep
        their dtype, integer images give float32 (as in JAX; Keras's torch
        backend rounds them back instead).

    Raises:
        ValueError: For an unknown `method`, or `output_shape`, `scale`,
            `translation` and `spatial_dims` that do not fit `images`.
    """
    x = to_tensor(images)
    if method not in _SCALE_KERNELS:
        raise ValueError(
            f"ops.image.scale_and_translate expects method in "
            f"{tuple(_SCALE_KERNELS)}; got method={method!r}."
        )
    try:
        out_shape = tuple(int(d) for d in output_shape)
        dims = tuple(int(d) % x.ndim for d in spatial_dims)
    except (TypeError, ValueError, ZeroDivisionError):
        out_shape, dims = None, None
    if out_shape is None or len(out_shape) != x.ndim or any(d < 0 for d in out_shape):
        raise ValueError(
            "ops.image.scale_and_translate expects `output_shape` with one "
            f"non-negative int per axis of `images` (shape {tuple(x.shape)}) and "
            f"`spatial_dims` as ints; got output_shape={output_shape!r}, "
            f"spatial_dims={spatial_dims!r}."
        )
    kept = [a for a in range(x.ndim) if a not in dims]
    if any(out_shape[a] != x.shape[a] for a in kept):
        raise ValueError(
            "ops.image.scale_and_translate can only resize the axes in "
            f"`spatial_dims` ({spatial_dims!r}); got output_shape={out_shape} for "
            f"images of shape {tuple(x.shape)}."
        )
    scale = to_tensor(scale, device=x.device)
    translation = to_tensor(translation, device=x.device)
    if scale.shape != (len(dims),) or translation.shape != (len(dims),):
        raise ValueError(
            "ops.image.scale_and_translate expects `scale` and `translation` "
            f"with one value per spatial dim ({len(dims)}); got shapes "
            f"{tuple(scale.shape)} and {tuple(translation.shape)}."
        )
    dtype = torch.promote_types(scale.dtype, translation.dtype)
    dtype = dtype if dtype.is_floating_point else torch.float32
    scale, translation = scale.to(x.device, dtype), translation.to(x.device, dtype)
    if not x.is_floating_point():
        x = x.to(torch.float32)
    kernel = _SCALE_KERNELS[method]
    for i, axis in enumerate(dims):
        weights = _weight_matrix(
            x.shape[axis], out_shape[axis], scale[i], translation[i], kernel, antialias
        ).to(x.dtype)
        x = torch.movedim(torch.tensordot(x, weights, dims=([axis], [0])), -1, axis)
    return x


@op
def sobel_edges(images, data_format=None) -> Tensor:
    """Vertical and horizontal Sobel gradients of a batch of images.

    Each channel is filtered on its own with the 3x3 Sobel kernels (zero
    padding, same size out).

    Args:
        images: A batch of images, rank 4.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.

    Returns:
        The gradients with a new last axis holding `[dy, dx]`: shape
        `(batch, height, width, channels, 2)` for channels-last inputs,
        `(batch, channels, height, width, 2)` for channels-first; the input's
        dtype.

    Raises:
        ValueError: For images that are not of rank 4.
    """
    x = to_tensor(images)
    if x.ndim != 4:
        raise ValueError(
            "ops.image.sobel_edges expects a batch of images (rank 4); got shape "
            f"{tuple(x.shape)}. Add a batch axis to a single image."
        )
    df = U.standardize_data_format(data_format, "ops.image.sobel_edges")
    dtype = _compute_dtype(x)
    nchw = x.to(dtype) if df == "channels_first" else x.to(dtype).permute(0, 3, 1, 2)
    batch, channels, height, width = nchw.shape
    d_y = torch.tensor([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=dtype)
    kernels = torch.stack([d_y, d_y.T]).to(x.device)  # [dy, dx]
    kernels = kernels.unsqueeze(1).repeat(channels, 1, 1, 1)
    edges = F.conv2d(nchw, kernels, padding=1, groups=channels)
    edges = edges.view(batch, channels, 2, height, width)
    order = (0, 3, 4, 1, 2) if df == "channels_last" else (0, 1, 3, 4, 2)
    return _cast_back(edges.permute(order), x.dtype)


@op
def ssim(
    image1,
    image2,
    max_val: float = 1.0,
    filter_size: int = 11,
    filter_sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    data_format=None,
) -> Tensor:
    """Structural similarity (SSIM, Wang et al. 2004) of two images or batches.

    Local means, variances and covariance come from a Gaussian window (no
    padding); the SSIM map is averaged over the valid positions and the
    channels.

    Args:
        image1: One image (rank 3) or a batch (rank 4).
        image2: Images of the same shape as `image1`.
        max_val: The range of pixel values (`1.0` for images in [0, 1],
            `255.0` for 8-bit ones). Defaults to `1.0`.
        filter_size: Width of the Gaussian window, a positive int no larger
            than the images. Defaults to `11`.
        filter_sigma: Standard deviation of the window. Defaults to `1.5`.
        k1: Stabilizes the luminance term: `c1 = (k1 * max_val) ** 2`.
            Defaults to `0.01`.
        k2: Stabilizes the contrast term: `c2 = (k2 * max_val) ** 2`.
            Defaults to `0.03`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.

    Returns:
        One SSIM value per image, shape `(batch,)` (a scalar for single
        images), 1 for identical images, in `image1`'s dtype (cast as Keras
        casts, so integer images give truncated values).

    Raises:
        ValueError: For images that are not of rank 3 or 4 or not of the same
            shape, or a `filter_size` that is not a positive int fitting the
            images.
    """
    a, df, added = _images("ssim", image1, data_format)
    b = to_tensor(image2, device=a.device).to(a.device)
    if tuple(b.shape) != tuple(to_tensor(image1).shape):
        raise ValueError(
            "ops.image.ssim expects image2 of the same shape as image1; got "
            f"shapes {tuple(to_tensor(image1).shape)} and {tuple(b.shape)}."
        )
    b = b.unsqueeze(0) if added else b
    height, width = _height_width(a, df)
    if not U.is_int(filter_size) or not 0 < filter_size <= min(height, width):
        raise ValueError(
            "ops.image.ssim expects `filter_size` to be a positive int no larger "
            f"than the images ({height}x{width}); got filter_size={filter_size!r}."
        )
    dtype = _compute_dtype(a)
    a, b = _channels_last(a.to(dtype), df), _channels_last(b.to(dtype), df)
    batch, channels = a.shape[0], a.shape[-1]
    # One single-channel image per (image, channel) pair.
    a = a.permute(0, 3, 1, 2).reshape(-1, 1, height, width)
    b = b.permute(0, 3, 1, 2).reshape(-1, 1, height, width)
    window = _gaussian_1d(filter_size, filter_sigma, dtype, a.device)
    window = torch.outer(window, window)
    stats = _depthwise(torch.cat([a, b, a * a, b * b, a * b], dim=1), window, False)
    mu_a, mu_b, aa, bb, ab = stats.unbind(dim=1)
    var_a, var_b = aa - mu_a * mu_a, bb - mu_b * mu_b
    cov = ab - mu_a * mu_b
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    ssim_map = ((2.0 * mu_a * mu_b + c1) * (2.0 * cov + c2)) / (
        (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    )
    out = ssim_map.mean(dim=(1, 2)).view(batch, channels).mean(dim=-1)
    return _unbatch(out, added).to(to_tensor(image1).dtype)


@op
def extract_patches_3d(
    volumes,
    size,
    strides=None,
    dilation_rate=1,
    padding: str = "valid",
    data_format=None,
) -> Tensor:
    """Patches of volumes, each flattened into the channels axis.

    Args:
        volumes: One volume `(depth, height, width, channels)` (rank 4) or a
            batch (rank 5); channels first with `data_format="channels_first"`.
        size: The patch size, an int or `(depth, height, width)`.
        strides: The step between patches, an int or three ints. Defaults to
            `size` (patches that tile the volume).
        dilation_rate: Spacing of the voxels a patch samples. Defaults to `1`.
        padding: `"valid"` (default) or `"same"`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.

    Returns:
        Patches of shape `(batch, d, h, w, pd * ph * pw * channels)` (channels
        last; the patch axis follows the batch axis for channels first), each
        flattened in (depth, row, column, channel) order; rank 4 for one
        volume.

    Raises:
        ValueError: For volumes that are not of rank 4 or 5, or a bad `size`
            or `strides`.
    """
    x = to_tensor(volumes)
    if x.ndim not in (4, 5):
        raise ValueError(
            "ops.image.extract_patches_3d expects volumes of rank 4 (one volume) "
            f"or 5 (a batch); got shape {tuple(x.shape)}."
        )
    who = "ops.image.extract_patches_3d"
    df = U.standardize_data_format(data_format, who)
    size = U.standardize_tuple(size, 3, "size", who)
    strides = U.standardize_tuple(
        size if strides is None else strides, 3, "strides", who
    )
    added = x.ndim == 4
    x = x.unsqueeze(0) if added else x
    channels = x.shape[-1] if df == "channels_last" else x.shape[1]
    depth = size[0] * size[1] * size[2] * channels
    # A convolution with an identity kernel copies each patch into the channels.
    kernel = torch.eye(depth, dtype=x.dtype if x.is_floating_point() else torch.float32)
    kernel = kernel.to(x.device).reshape(*size, channels, depth)
    out = conv(x, kernel, strides, padding, df, dilation_rate)
    return _unbatch(out, added)


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
    "elastic_transform",
    "extract_patches_3d",
    "gaussian_blur",
    "perspective_transform",
    "scale_and_translate",
    "sobel_edges",
    "ssim",
]
