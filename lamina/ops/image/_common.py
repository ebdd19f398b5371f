"""Private helpers shared by the `lamina.ops.image` modules: batching and data
formats, float compute dtypes, Gaussian and depthwise filtering, and the
one-axis resampling weights of `resize` and `scale_and_translate`."""

import torch
import torch.nn.functional as F

from lamina.layers.convolutional import _conv_utils as U
from lamina.ops._utils import Tensor, to_tensor


def _images(name: str, images, data_format):
    """`(images as a batch, data_format, whether a batch axis was added)`."""
    x = to_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"ops.image.{name}: Invalid images rank: expected rank 3 (one image) "
            f"or 4 (a batch); got shape {tuple(x.shape)}."
        )
    df = U.standardize_data_format(data_format, f"ops.image.{name}")
    return (x.unsqueeze(0), df, True) if x.ndim == 3 else (x, df, False)


def _unbatch(x: Tensor, added: bool) -> Tensor:
    return x.squeeze(0) if added else x


def _height_width(x: Tensor, df: str) -> tuple:
    return (x.shape[1], x.shape[2]) if df == "channels_last" else x.shape[2:4]


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
