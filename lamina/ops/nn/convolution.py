"""Convolution and pooling ops of `keras.ops.nn`, with Keras's layouts.

Inputs are `(batch, *spatial, channels)` (`data_format="channels_last"`, the
default of `image_data_format()`) or `(batch, channels, *spatial)`, with one to
three spatial axes. Kernels keep Keras's layout, `kernel_size + (in, out)`.
`padding="same"` is Keras's (TensorFlow's) rule: outputs of size
`ceil(size / stride)`, the odd pixel of padding going right/bottom; padded
positions never count in a pooling window. The layout views, padding arithmetic
and argument checks are those of the convolution layers
(`lamina.layers.convolutional._conv_utils`).
"""

import torch
import torch.nn.functional as F

from lamina.layers.convolutional import _conv_utils as U
from lamina.ops._utils import Tensor, floatx_dtype, to_tensor
from lamina.ops.operation import op

_CONV = {1: F.conv2d, 2: F.conv2d, 3: F.conv3d}
_CONV_TRANSPOSE = {1: F.conv_transpose2d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAX_POOL = {1: F.max_pool2d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool2d, 2: F.avg_pool2d, 3: F.avg_pool3d}
_ADAPTIVE_MAX = {1: F.adaptive_max_pool2d, 2: F.adaptive_max_pool2d}
_ADAPTIVE_MAX[3] = F.adaptive_max_pool3d
_ADAPTIVE_AVG = {1: F.adaptive_avg_pool2d, 2: F.adaptive_avg_pool2d}
_ADAPTIVE_AVG[3] = F.adaptive_avg_pool3d


# 1. Argument checks


def _spatial_rank(name: str, x: Tensor) -> int:
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(
            f"ops.{name} expects inputs of rank 3, 4 or 5 ((batch, *spatial, "
            "channels) with 1 to 3 spatial axes, or channels first); got shape "
            f"{tuple(x.shape)} (rank {x.ndim})."
        )
    return rank


def _common_float(x: Tensor, *others: Tensor):
    """`x` and `others` in one floating dtype (Keras's result type)."""
    dtype = x.dtype
    for other in others:
        dtype = torch.promote_types(dtype, other.dtype)
    if not dtype.is_floating_point:
        dtype = floatx_dtype()
    return (x.to(dtype),) + tuple(o.to(dtype) for o in others)


def _check_kernel(name: str, kernel: Tensor, rank: int, what: str = "kernel"):
    if kernel.ndim != rank + 2:
        raise ValueError(
            f"ops.{name} expects a `{what}` of rank {rank + 2} (kernel_size + (in, "
            f"out)) for inputs with {rank} spatial axes; got {what} shape "
            f"{tuple(kernel.shape)}."
        )


def _channels(x: Tensor, data_format: str) -> int:
    return x.shape[-1] if data_format == "channels_last" else x.shape[1]


def _setup(name, inputs, strides, padding, data_format, dilation_rate=1):
    who = f"ops.{name}"
    x = to_tensor(inputs)
    rank = _spatial_rank(name, x)
    strides = U.standardize_tuple(strides, rank, "strides", who)
    dilation_rate = U.standardize_tuple(dilation_rate, rank, "dilation_rate", who)
    padding = U.standardize_padding(padding, who)
    data_format = U.standardize_data_format(data_format, who)
    return x, rank, strides, padding, data_format, dilation_rate


# 2. Convolutions


def _convolve(
    x, torch_kernel, kernel_size, rank, strides, padding, df, dilation, groups
):
    t = U.to_torch_layout(x, rank, df)
    pads = U.spatial_pads(t, rank, kernel_size, strides, dilation, padding)
    t, torch_padding = U.pad_for_torch(t, pads)
    out = _CONV[rank](
        t,
        torch_kernel,
        None,
        U.lift(strides, rank, 1),
        torch_padding,
        U.lift(dilation, rank, 1),
        groups,
    )
    return U.from_torch_layout(out, rank, df)


@op
def conv(
    inputs,
    kernel,
    strides=1,
    padding: str = "valid",
    data_format=None,
    dilation_rate=1,
) -> Tensor:
    """N-D convolution (1 to 3 spatial axes) of `inputs` with a Keras kernel
    `kernel_size + (in_channels // groups, out_channels)`; a kernel with fewer
    input channels than `inputs` runs a grouped convolution.

    Example:
    >>> x = lamina.ops.ones((1, 4, 1))
    >>> lamina.ops.conv(x, lamina.ops.ones((3, 1, 1))).shape
    torch.Size([1, 2, 1])
    """
    x, rank, strides, padding, df, dilation = _setup(
        "conv", inputs, strides, padding, data_format, dilation_rate
    )
    kernel = to_tensor(kernel, device=x.device)
    _check_kernel("conv", kernel, rank)
    x, kernel = _common_float(x, kernel)
    channels, per_group = _channels(x, df), kernel.shape[-2]
    if per_group == 0 or channels % per_group:
        raise ValueError(
            f"ops.conv expects the kernel's input-channel axis ({per_group}) to "
            f"divide the inputs' channels ({channels}) (the number of input "
            f"channels must match the kernel, or be a multiple of it for "
            f"grouped convolution); got inputs of shape "
            f"{tuple(x.shape)} ({df}) and kernel of shape {tuple(kernel.shape)}."
        )
    return _convolve(
        x,
        U.torch_kernel(kernel, rank),
        tuple(kernel.shape[:rank]),
        rank,
        strides,
        padding,
        df,
        dilation,
        channels // per_group,
    )


def _depthwise_torch_kernel(kernel: Tensor, rank: int) -> Tensor:
    # Keras (*k, in, multiplier) -> torch (in * multiplier, 1, *k); output
    # channel c * multiplier + m, as in Keras.
    k = kernel.reshape(tuple(kernel.shape[:rank]) + (1, -1))
    return U.torch_kernel(k, rank)


def _depthwise(name, x, kernel, rank, strides, padding, df, dilation):
    _check_kernel(name, kernel, rank, "depthwise_kernel" if "sep" in name else "kernel")
    channels = _channels(x, df)
    if kernel.shape[-2] != channels:
        raise ValueError(
            f"ops.{name} expects a depthwise kernel kernel_size + ({channels}, "
            f"multiplier): the input channels must match the kernel; got inputs "
            f"with {channels} channels and kernel shape {tuple(kernel.shape)}."
        )
    return _convolve(
        x,
        _depthwise_torch_kernel(kernel, rank),
        tuple(kernel.shape[:rank]),
        rank,
        strides,
        padding,
        df,
        dilation,
        channels,
    )


@op
def depthwise_conv(
    inputs,
    kernel,
    strides=1,
    padding: str = "valid",
    data_format=None,
    dilation_rate=1,
) -> Tensor:
    """Depthwise convolution: each input channel convolved with its own
    `multiplier` filters; `kernel` is `kernel_size + (in_channels, multiplier)`
    and the output has `in_channels * multiplier` channels."""
    x, rank, strides, padding, df, dilation = _setup(
        "depthwise_conv", inputs, strides, padding, data_format, dilation_rate
    )
    x, kernel = _common_float(x, to_tensor(kernel, device=x.device))
    return _depthwise("depthwise_conv", x, kernel, rank, strides, padding, df, dilation)


@op
def separable_conv(
    inputs,
    depthwise_kernel,
    pointwise_kernel,
    strides=1,
    padding: str = "valid",
    data_format=None,
    dilation_rate=1,
) -> Tensor:
    """A depthwise convolution followed by a 1x1 ("pointwise") convolution with
    `pointwise_kernel` of shape `(1,) * rank + (in * multiplier, out)`."""
    x, rank, strides, padding, df, dilation = _setup(
        "separable_conv", inputs, strides, padding, data_format, dilation_rate
    )
    x, depthwise_kernel, pointwise_kernel = _common_float(
        x,
        to_tensor(depthwise_kernel, device=x.device),
        to_tensor(pointwise_kernel, device=x.device),
    )
    _check_kernel("separable_conv", pointwise_kernel, rank, "pointwise_kernel")
    y = _depthwise(
        "separable_conv", x, depthwise_kernel, rank, strides, padding, df, dilation
    )
    if pointwise_kernel.shape[-2] != _channels(y, df):
        raise ValueError(
            "ops.separable_conv expects `pointwise_kernel` with "
            f"{_channels(y, df)} input channels (in_channels * multiplier); got "
            f"pointwise_kernel shape {tuple(pointwise_kernel.shape)}."
        )
    t = U.to_torch_layout(y, rank, df)
    out = _CONV[rank](t, U.torch_kernel(pointwise_kernel, rank))
    return U.from_torch_layout(out, rank, df)


@op
def conv_transpose(
    inputs,
    kernel,
    strides=1,
    padding: str = "valid",
    output_padding=None,
    data_format=None,
    dilation_rate=1,
) -> Tensor:
    """Transposed convolution (the gradient of `conv` with respect to its
    input), with a Keras kernel `kernel_size + (out_channels, in_channels)`
    and Keras's output sizes (see `Conv2DTranspose`)."""
    x, rank, strides, padding, df, dilation = _setup(
        "conv_transpose", inputs, strides, padding, data_format, dilation_rate
    )
    kernel = to_tensor(kernel, device=x.device)
    _check_kernel("conv_transpose", kernel, rank)
    x, kernel = _common_float(x, kernel)
    if kernel.shape[-1] != _channels(x, df):
        raise ValueError(
            f"ops.conv_transpose expects a kernel kernel_size + (out, "
            f"{_channels(x, df)}): the input channels must match the kernel's "
            f"last axis; got inputs with {_channels(x, df)} channels and kernel "
            f"shape {tuple(kernel.shape)}."
        )
    if output_padding is not None:
        output_padding = U.standardize_tuple(
            output_padding, rank, "output_padding", "ops.conv_transpose", True
        )
    # torch keeps full[p : L - p + output_padding] of the full transposed
    # convolution, Keras full[left : L - right]; what torch cannot express is
    # sliced off on the right afterwards.
    padding_, output_padding_, crops = [], [], []
    for i in range(rank):
        left, right = U.transpose_crops(
            kernel.shape[i],
            strides[i],
            padding,
            None if output_padding is None else output_padding[i],
            dilation[i],
        )
        padding_.append(left)
        if 0 <= left - right < max(strides[i], dilation[i]):
            output_padding_.append(left - right)
            crops.append(0)
        else:
            output_padding_.append(0)
            crops.append(right - left)
    t = U.to_torch_layout(x, rank, df)
    out = _CONV_TRANSPOSE[rank](
        t,
        U.torch_kernel(kernel, rank),
        None,
        U.lift(strides, rank, 1),
        U.lift(tuple(padding_), rank, 0),
        U.lift(tuple(output_padding_), rank, 0),
        1,
        U.lift(dilation, rank, 1),
    )
    if any(crops):
        index = [slice(None), slice(None)] + [slice(None)] * (out.ndim - 2 - rank)
        for crop, size in zip(crops, out.shape[-rank:]):
            index.append(slice(0, size - crop))
        out = out[tuple(index)]
    return U.from_torch_layout(out, rank, df)


# 3. Pooling


def _pool_setup(name, inputs, pool_size, strides, padding, data_format):
    x, rank, _, padding, df, _ = _setup(name, inputs, 1, padding, data_format)
    who = f"ops.{name}"
    pool_size = U.standardize_tuple(pool_size, rank, "pool_size", who)
    strides = U.standardize_tuple(
        pool_size if strides is None else strides, rank, "strides", who
    )
    t = U.to_torch_layout(x, rank, df)
    pads = U.spatial_pads(t, rank, pool_size, strides, (1,) * rank, padding)
    return t, rank, df, U.lift(pool_size, rank, 1), U.lift(strides, rank, 1), pads


@op
def max_pool(
    inputs, pool_size, strides=None, padding: str = "valid", data_format=None
) -> Tensor:
    """The maximum of each `pool_size` window, moved by `strides` (defaults to
    `pool_size`)."""
    t, rank, df, pool, strides, pads = _pool_setup(
        "max_pool", inputs, pool_size, strides, padding, data_format
    )
    t, torch_padding = U.pad_for_torch(t, pads, value=U.lowest(t.dtype))
    out = _MAX_POOL[rank](t, pool, strides, torch_padding)
    return U.from_torch_layout(out, rank, df)


@op
def average_pool(
    inputs, pool_size, strides=None, padding: str = "valid", data_format=None
) -> Tensor:
    """The mean of each `pool_size` window, moved by `strides` (defaults to
    `pool_size`); with `padding="same"` a window's mean is over its real
    elements only."""
    t, rank, df, pool, strides, pads = _pool_setup(
        "average_pool", inputs, pool_size, strides, padding, data_format
    )
    t = t if t.is_floating_point() else t.to(floatx_dtype())
    if all(left == right for left, right in pads):
        padding = tuple(left for left, _ in pads)
        out = _AVG_POOL[rank](t, pool, strides, padding, count_include_pad=False)
    else:
        # torch pads symmetrically only: average zero-padded windows, then
        # rescale by the fraction of real elements (the same pooling of ones).
        ones = t.new_ones((1, 1) + tuple(t.shape[2:]))
        sums = _AVG_POOL[rank](U.pad_for_torch(t, pads)[0], pool, strides)
        real = _AVG_POOL[rank](U.pad_for_torch(ones, pads)[0], pool, strides)
        out = sums / real
    return U.from_torch_layout(out, rank, df)


def _adaptive(name, table, inputs, output_size, data_format):
    x = to_tensor(inputs)
    rank = _spatial_rank(name, x)
    df = U.standardize_data_format(data_format, f"ops.{name}")
    size = U.standardize_tuple(output_size, rank, "output_size", f"ops.{name}")
    t = U.to_torch_layout(x, rank, df)
    if name == "adaptive_average_pool" and not t.is_floating_point():
        t = t.to(floatx_dtype())
    out = table[rank](t, U.lift(size, rank, 1))
    return U.from_torch_layout(out, rank, df)


@op
def adaptive_average_pool(inputs, output_size, data_format=None) -> Tensor:
    """Average pooling whose windows are chosen to give exactly `output_size`
    (an int or one int per spatial axis) outputs per spatial axis."""
    return _adaptive(
        "adaptive_average_pool", _ADAPTIVE_AVG, inputs, output_size, data_format
    )


@op
def adaptive_max_pool(inputs, output_size, data_format=None) -> Tensor:
    """Max pooling whose windows are chosen to give exactly `output_size`
    (an int or one int per spatial axis) outputs per spatial axis."""
    return _adaptive(
        "adaptive_max_pool", _ADAPTIVE_MAX, inputs, output_size, data_format
    )


# 4. Patches and blocks


def _check_rank4(name: str, x: Tensor, layout: str):
    if x.ndim != 4:
        raise ValueError(
            f"ops.{name} expects a rank-4 tensor {layout}; got shape {tuple(x.shape)}."
        )


@op
def unfold(x, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding `kernel_size` blocks of a `(N, C, H, W)` tensor as columns:
    `(N, C * kh * kw, blocks)` (torch's `unfold`, "im2col")."""
    x = to_tensor(x)
    _check_rank4("unfold", x, "(N, C, H, W)")
    return F.unfold(x, kernel_size, dilation=dilation, padding=padding, stride=stride)


@op
def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Inverse of `unfold` ("col2im"): sums the blocks of `x`, shaped
    `(N, C * kh * kw, blocks)`, into a `(N, C, *output_size)` tensor."""
    x = to_tensor(x)
    if x.ndim != 3:
        raise ValueError(
            "ops.fold expects a 3D (rank-3) tensor (N, C * kh * kw, blocks); got shape "
            f"{tuple(x.shape)}."
        )
    return F.fold(
        x, output_size, kernel_size, dilation=dilation, padding=padding, stride=stride
    )


def _block_size(name: str, block_size) -> int:
    if not U.is_int(block_size) or block_size < 2:
        raise ValueError(
            f"ops.{name} expects `block_size` to be an int >= 2 (`block_size` "
            f"must be at least 2); got block_size={block_size!r}."
        )
    return block_size


@op
def depth_to_space(x, block_size: int, data_format: str = "channels_last") -> Tensor:
    """Moves channels into `block_size x block_size` spatial blocks:
    `(N, H, W, C)` becomes `(N, H * b, W * b, C / b^2)`.

    Channels last reads each pixel's channels as `(b, b, C / b^2)` (as
    TensorFlow); channels first as `(C / b^2, b, b)` (torch's
    `pixel_shuffle`), as Keras does.
    """
    x = to_tensor(x)
    b = _block_size("depth_to_space", block_size)
    df = U.standardize_data_format(data_format, "ops.depth_to_space")
    _check_rank4("depth_to_space", x, "(N, H, W, C) or (N, C, H, W)")
    c = x.shape[-1] if df == "channels_last" else x.shape[1]
    if c % (b * b):
        raise ValueError(
            f"ops.depth_to_space expects the channels ({c}) to be divisible by "
            f"block_size**2 = {b * b}; got shape {tuple(x.shape)} ({df})."
        )
    if df == "channels_first":
        return F.pixel_shuffle(x, b)
    n, h, w, _ = x.shape
    out = x.reshape(n, h, w, b, b, c // (b * b)).permute(0, 1, 3, 2, 4, 5)
    return out.reshape(n, h * b, w * b, c // (b * b))


@op
def space_to_depth(x, block_size: int, data_format: str = "channels_last") -> Tensor:
    """Inverse of `depth_to_space`: `(N, H, W, C)` becomes
    `(N, H / b, W / b, C * b^2)`."""
    x = to_tensor(x)
    b = _block_size("space_to_depth", block_size)
    df = U.standardize_data_format(data_format, "ops.space_to_depth")
    _check_rank4("space_to_depth", x, "(N, H, W, C) or (N, C, H, W)")
    h, w = (x.shape[1], x.shape[2]) if df == "channels_last" else x.shape[2:]
    if h % b or w % b:
        raise ValueError(
            f"ops.space_to_depth expects height and width divisible by "
            f"block_size={b}; got shape {tuple(x.shape)} ({df})."
        )
    if df == "channels_first":
        return F.pixel_unshuffle(x, b)
    n, _, _, c = x.shape
    out = x.reshape(n, h // b, b, w // b, b, c).permute(0, 1, 3, 2, 4, 5)
    return out.reshape(n, h // b, w // b, c * b * b)


__all__ = [
    "adaptive_average_pool",
    "adaptive_max_pool",
    "average_pool",
    "conv",
    "conv_transpose",
    "depth_to_space",
    "depthwise_conv",
    "fold",
    "max_pool",
    "separable_conv",
    "space_to_depth",
    "unfold",
]
