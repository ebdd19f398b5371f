"""Colour-space conversions of `keras.ops.image`: grayscale and HSV."""

import torch

from lamina.layers.convolutional import _conv_utils as U
from lamina.ops._utils import Tensor, to_tensor
from lamina.ops.operation import op


def _channel_axis(df: str) -> int:
    return -1 if df == "channels_last" else -3


@op
def rgb_to_grayscale(images, data_format=None) -> Tensor:
    """Luma `0.2989 R + 0.587 G + 0.114 B`, keeping a channels axis of size 1
    (1-channel images are returned as a copy)."""
    x = to_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(
            "ops.image.rgb_to_grayscale: Invalid images rank: expected rank 3 "
            f"(one image) or 4 (a batch); got shape {tuple(x.shape)}."
        )
    axis = _channel_axis(U.standardize_data_format(data_format, "rgb_to_grayscale"))
    if x.shape[axis] not in (1, 3):
        raise ValueError(
            "ops.image.rgb_to_grayscale: Invalid channel size: expected 3 (RGB) "
            "or 1 (Grayscale). Got shape "
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
            f"ops.image.{name}: Invalid images rank: expected rank 3 (one image) "
            f"or 4 (a batch); got shape {tuple(x.shape)}."
        )
    if not x.is_floating_point():
        raise ValueError(
            f"ops.image.{name}: Invalid images dtype: expected float dtype; got "
            f"dtype {x.dtype}."
        )
    axis = _channel_axis(U.standardize_data_format(data_format, f"ops.image.{name}"))
    if x.shape[axis] != 3:
        raise ValueError(
            f"ops.image.{name}: Input images must have 3 channels, but received "
            f"images with {x.shape[axis]} channels. Got shape {tuple(x.shape)}."
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
