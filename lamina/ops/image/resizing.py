"""Resizing, padding and cropping ops of `keras.ops.image`.

`"bilinear"`, `"nearest"` and `"bicubic"` resizing run the torch code of the
`Resizing` layer; Lanczos and area resizing apply one weight matrix per spatial
axis."""

import torch

from lamina.layers.convolutional import _conv_utils as U
from lamina.layers.preprocessing.resizing import resize_images
from lamina.ops._utils import Tensor
from lamina.ops.image._aspect_ratio import fit_aspect_ratio
from lamina.ops.image._common import (
    _SCALE_KERNELS,
    _height_width,
    _images,
    _unbatch,
    _weight_matrix,
)
from lamina.ops.operation import op

_RESIZE_INTERPOLATIONS = (
    "bilinear",
    "nearest",
    "bicubic",
    "lanczos3",
    "lanczos5",
    "area",
)


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
            f"ints (`size` must have positive height and width); got size={size!r}."
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
    x = fit_aspect_ratio(x, size, crop, pad, fill_value, df)
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


def _two_of_three(name: str, first, second, target, what: str):
    if [first, second, target].count(None) != 1:
        raise ValueError(
            f"ops.image.{name} expects exactly two of the three sizes. Must "
            f"specify exactly two of {what}; got "
            f"{first!r}, {second!r}, {target!r}."
        )
    for arg, value in zip(what.split(", "), (first, second, target)):
        if value is not None and (not U.is_int(value) or value < 0):
            raise ValueError(
                f"ops.image.{name} expects non-negative ints for {what} "
                f"({arg} must be >= 0); got {first!r}, {second!r}, {target!r}."
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
        side = [
            n
            for n, v in zip(
                ("top", "bottom", "left", "right"), (top, bottom, left, right)
            )
            if v < 0
        ][0]
        raise ValueError(
            "ops.image.pad_images: the target size is smaller than the images "
            f"({height}x{width}), so {side}_padding must be >= 0; got paddings "
            f"top={top}, bottom={bottom}, left={left}, right={right}."
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
        negative = [
            n
            for n, v in (
                ("top_cropping", top),
                ("left_cropping", left),
                ("target_height", target_height),
                ("target_width", target_width),
            )
            if v < 0
        ]
        why = f" ({negative[0]} must be >= 0)" if negative else ""
        raise ValueError(
            f"ops.image.crop_images: the crop does not fit in {height}x{width} "
            f"images{why}; got top={top}, left={left}, "
            f"target_height={target_height}, target_width={target_width}."
        )
    rows, cols = slice(top, top + target_height), slice(left, left + target_width)
    out = x[:, rows, cols] if df == "channels_last" else x[:, :, rows, cols]
    return _unbatch(out, added)
