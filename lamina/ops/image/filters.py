"""Filters and measures of `keras.ops.image`: `gaussian_blur`, `sobel_edges`
and `ssim`."""

import numbers

import numpy as np
import torch
import torch.nn.functional as F

from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.convolutional import _conv_utils as U
from lamina.ops._utils import Tensor, to_tensor
from lamina.ops.image._common import (
    _cast_back,
    _channels_last,
    _compute_dtype,
    _depthwise,
    _gaussian_1d,
    _height_width,
    _images,
    _unbatch,
)
from lamina.ops.operation import op


def _pair(name: str, value, what: str, check) -> tuple:
    if isinstance(value, (Tensor, np.ndarray)):
        value = value.tolist()  # NumPy ints and floats become Python ones
    try:
        items = tuple(value)
    except TypeError:
        items = ()
    if len(items) != 2 or not all(check(v) for v in items):
        raise ValueError(f"ops.image.{name} expects {what}; got {value!r}.")
    return items


def _gaussian_blur_output_spec(images, kernel_size=(3, 3), sigma=(1.0, 1.0), **_):
    """A symbolic `kernel_size` or `sigma` (values known only when the model
    runs): the blur keeps the images' shape and dtype, as in Keras. Other calls
    go to shape inference."""
    if not isinstance(images, KerasTensor) or not (
        isinstance(kernel_size, KerasTensor) or isinstance(sigma, KerasTensor)
    ):
        return NotImplemented
    if images.ndim not in (3, 4):
        raise ValueError(
            "ops.image.gaussian_blur expects images of rank 3 (one image) or 4 "
            f"(a batch); got shape {images.shape}."
        )
    return KerasTensor(images.shape, dtype=images.dtype)


@op(output_spec=_gaussian_blur_output_spec)
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
