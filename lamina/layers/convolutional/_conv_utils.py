"""Argument checks, Keras padding arithmetic and layout views shared by the
convolution and pooling layers.

Keras speaks channels_last (`(batch, *spatial, channels)`) and keeps kernels as
`kernel_size + (in, out)`; torch's kernels want `(batch, channels, *spatial)` and
`(out, in, *kernel_size)`. Both conversions here are `permute` views: a
channels_last tensor seen through `permute(0, -1, 1, ...)` has torch's
`channels_last` memory strides, so oneDNN / cuDNN run their NHWC kernels on it
with no copy. One-dimensional layers are run as two-dimensional ones with a
height of 1 (what torch does internally for conv1d), which keeps the NHWC path.
"""

import math

import torch
import torch.nn.functional as F

from lamina.backend import config
from lamina.layers.input_spec import check_input_spec

# A frequent mistake: grayscale images or 1-feature sequences without their
# channels axis, e.g. MNIST as (batch, 28, 28) instead of (batch, 28, 28, 1).
MISSING_CHANNELS_HINT = (
    "The inputs seem to lack their channels axis. Add one of size 1: {fix} turns "
    "shape {shape} into {fixed}."
)


# --- argument checks ----------------------------------------------------------


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def standardize_tuple(value, n: int, name: str, who: str, allow_zero=False):
    """`value` (an int or `n` ints) as a tuple of `n` ints, each >= 1 (>= 0 with
    `allow_zero`)."""
    items = (value,) * n if is_int(value) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    low = 0 if allow_zero else 1
    if (
        items is None
        or len(items) != n
        or not all(is_int(v) or hasattr(v, "__index__") for v in items)
        or any(isinstance(v, bool) for v in items)
        or any(int(v) < low for v in items)
    ):
        kind = "non-negative" if allow_zero else "positive"
        keras_phrase = ""
        if items is not None and len(items) == n and all(is_int(v) for v in items):
            bad = {int(v) for v in items if int(v) < low}
            keras_phrase = (
                f"The `{name}` argument must be a tuple of {n} integers. Received "
                f"{name}={value!r}, including values {bad} that do not satisfy "
                f"`value {'>=' if allow_zero else '>'} 0`. "
            )
        raise ValueError(
            f"{keras_phrase}"
            f"{who} expects `{name}` to be a {kind} int or a tuple of {n} {kind} "
            f"ints; got {name}={value!r}. For example {name}={3 if low else 0} or "
            f"{name}={(3 if low else 0,) * n}."
        )
    return tuple(int(v) for v in items)


def standardize_padding(value, who: str, allow_causal=False) -> str:
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        hint = (
            ""
            if allow_causal or padding != "causal"
            else " 'causal' padding exists only for Conv1D."
        )
        raise ValueError(
            f"{who} expects `padding` to be one of {allowed}; got "
            f"padding={value!r}.{hint}"
        )
    return padding


def standardize_data_format(value, who: str) -> str:
    if value is None:
        return config.image_data_format()
    data_format = value.lower() if isinstance(value, str) else value
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{who} expects `data_format` to be 'channels_last' (batch, ..., "
            f"channels) or 'channels_first' (batch, channels, ...); got "
            f"data_format={value!r}."
        )
    return data_format


def check_positive_int(value, name: str, who: str, example: str):
    if not is_int(value) or value < 1:
        raise ValueError(
            f"{who} expects `{name}` to be a positive int; got {name}={value!r} "
            f"(Invalid value for argument `{name}`. Expected a strictly positive "
            f"value. Received {name}={value!r}.). For example {example}."
        )


_STRIDED_DILATION = (
    "`strides > 1` not supported in conjunction with `dilation_rate > 1`"
)


def check_strides_and_dilation(
    strides, dilation_rate, who: str, problem=_STRIDED_DILATION
):
    # Keras: strided dilated convolutions are not supported by every backend.
    # `problem`: its wording (Keras's ConvLSTM layers word it their own way).
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(
            f"{who}: {problem}. Received: strides={strides} and "
            f"dilation_rate={dilation_rate}. Use one of them, or follow a dilated "
            "convolution with a pooling layer."
        )


def check_rank(layer, inputs):
    """Raise the layer's InputSpec error when `inputs` has the wrong rank (torch
    would otherwise read a missing batch axis as an unbatched input)."""
    if inputs.dim() != layer.rank + 2:
        check_input_spec(
            layer.input_spec, tuple(inputs.shape), layer.name, type(layer).__name__
        )


def input_channels(input_shape, rank: int, data_format: str, who: str) -> int:
    """The channel count of `input_shape`, after checking its rank."""
    input_shape = tuple(input_shape)
    if len(input_shape) != rank + 2:
        layout = (
            "(batch, " + ", ".join(["spatial"] * rank) + ", channels)"
            if data_format == "channels_last"
            else "(batch, channels, " + ", ".join(["spatial"] * rank) + ")"
        )
        hint = ""
        if len(input_shape) == rank + 1:
            last = data_format == "channels_last"
            hint = " " + MISSING_CHANNELS_HINT.format(
                fix="x[..., None]" if last else "x[:, None]",
                shape=input_shape,
                fixed=input_shape + (1,)
                if last
                else input_shape[:1] + (1,) + input_shape[1:],
            )
        raise ValueError(
            f"{who} expects inputs of rank {rank + 2}, {layout}; got shape "
            f"{input_shape} (rank {len(input_shape)}).{hint}"
        )
    channels = input_shape[-1] if data_format == "channels_last" else input_shape[1]
    if channels is None:
        raise ValueError(
            f"{who} needs the size of the channels axis to create its kernel; got "
            f"input shape {input_shape} with data_format='{data_format}'."
        )
    return int(channels)


# --- Keras shape arithmetic ---------------------------------------------------


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1):
    """Keras/TF "same" padding of one axis as (left, right): the total is what
    `ceil(size / stride)` outputs need; an odd total puts the extra on the right."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def conv_output_length(size, kernel, stride, padding, dilation=1):
    if size is None:
        return None
    if padding == "valid":
        return (size - (kernel - 1) * dilation - 1) // stride + 1
    return (size + stride - 1) // stride  # "same" and "causal"


def conv_output_shape(
    input_shape,
    channels_out,
    rank,
    kernel_size,
    strides,
    padding,
    data_format,
    dilation_rate,
    who,
):
    """Keras's output shape of a convolution (or pooling), with a clear error when
    the kernel does not fit the input."""
    input_shape = tuple(input_shape)
    spatial = input_shape[1:-1] if data_format == "channels_last" else input_shape[2:]
    if len(spatial) != rank:
        raise ValueError(
            f"{who} expects inputs of rank {rank + 2}; got shape {input_shape}."
        )
    out = tuple(
        conv_output_length(n, k, s, padding, d)
        for n, k, s, d in zip(spatial, kernel_size, strides, dilation_rate)
    )
    if any(o is not None and o <= 0 for o in out):
        raise ValueError(
            f"{who} would produce an empty output (Computed output size would be "
            "zero or negative.): with kernel/pool size "
            f"{kernel_size}, strides={strides}, dilation_rate={dilation_rate} and "
            f"padding='{padding}', inputs of shape {input_shape} are too small "
            f"(output spatial shape {out}). Use larger inputs, a smaller kernel or "
            "padding='same'."
        )
    if data_format == "channels_last":
        return (input_shape[0], *out, channels_out)
    return (input_shape[0], channels_out, *out)


def transpose_output_length(size, kernel, stride, padding, output_padding, dilation):
    """Keras's output length of a transposed convolution along one axis."""
    if size is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = (
            max(effective, stride) - effective
            if output_padding is None
            else output_padding
        )
        return (size - 1) * stride + effective + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + effective % 2 + output_padding


def transpose_crops(kernel, stride, padding, output_padding, dilation):
    """(left, right) amounts to cut from the full transposed convolution (torch's
    `padding=0` output, length `(size - 1) * stride + effective_kernel`) so the
    result matches Keras (its JAX/TF padding rule). Negative means pad zeros."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = (
            max(effective, stride) - effective
            if output_padding is None
            else output_padding
        )
        return 0, -extra
    if output_padding is None:
        total = stride + effective - 2
    else:
        total = effective + effective % 2 - 2 + output_padding
    left = min(total - total // 2, effective - 1)
    return effective - 1 - left, effective - 1 - (total - left)


# --- layouts ------------------------------------------------------------------


def to_torch_layout(x, rank: int, data_format: str):
    """`(batch, channels, *spatial)` view of `x`; rank-1 inputs get a height of 1."""
    if rank == 1:
        x = x.unsqueeze(1 if data_format == "channels_last" else 2)
    if data_format == "channels_last":
        dims = x.dim()
        x = x.permute(0, dims - 1, *range(1, dims - 1))
    return x


def from_torch_layout(y, rank: int, data_format: str):
    """Inverse of `to_torch_layout` for an output of the same layout."""
    if data_format == "channels_last":
        dims = y.dim()
        y = y.permute(0, *range(2, dims), 1)
        return y.squeeze(1) if rank == 1 else y
    return y.squeeze(2) if rank == 1 else y


def torch_kernel(kernel, rank: int):
    """View of a Keras kernel `kernel_size + (a, b)` as torch's `(b, a, *kernel)`
    (rank-1 kernels get a height of 1)."""
    if rank == 1:
        kernel = kernel.unsqueeze(0)
    dims = kernel.dim()
    return kernel.permute(dims - 1, dims - 2, *range(dims - 2))


def lift(values: tuple, rank: int, fill: int) -> tuple:
    """Per-axis arguments for the torch op: rank-1 layers run as 2-D with height 1."""
    return (fill, *values) if rank == 1 else tuple(values)


def pad_for_torch(x, pads, value=0.0):
    """Apply per-axis (left, right) `pads` to the spatial axes of a torch-layout
    tensor: symmetric ones are returned as the op's `padding` argument (free),
    asymmetric ones are applied with `F.pad`. Returns `(x, padding)`."""
    if all(left == right for left, right in pads):
        return x, tuple(left for left, _ in pads)
    flat = []
    for left, right in reversed(pads):
        flat.extend((left, right))
    return F.pad(x, flat, value=value), (0,) * len(pads)


def spatial_pads(x, rank, kernel_size, strides, dilation_rate, padding):
    """Per-axis (left, right) padding in torch layout (after `lift`) for Keras's
    "valid", "same" or "causal" padding of a torch-layout tensor `x`."""
    kernel_size = lift(kernel_size, rank, 1)
    strides = lift(strides, rank, 1)
    dilation_rate = lift(dilation_rate, rank, 1)
    sizes = x.shape[2:]
    if padding == "valid":
        return [(0, 0)] * len(sizes)
    if padding == "causal":
        return [(0, 0)] * (len(sizes) - 1) + [
            (dilation_rate[-1] * (kernel_size[-1] - 1), 0)
        ]
    return [
        same_padding(n, k, s, d)
        for n, k, s, d in zip(sizes, kernel_size, strides, dilation_rate)
    ]


def lowest(dtype):
    if dtype.is_floating_point:
        return -math.inf
    return torch.iinfo(dtype).min
