"""Quantizers and quantization maths: int8 abs-max, int4 packing, float8 scaling,
and fake quantization with a straight-through gradient.

The functions are ops (`lamina.ops.operation.op`): given KerasTensors they
return KerasTensors, as Keras's do. Quantized layers call the eager functions
underneath (`fn.__wrapped__`), which skip that dispatch (about 1 us a call).
"""

import math

import numpy as np
import torch

from lamina import backend
from lamina.ops.operation import op

# --- int8 -------------------------------------------------------------------------


def _tensor(x, dtype=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor) and dtype is None:
        return x
    return backend.convert_to_tensor(x, dtype=dtype)


def _dims(axis, ndim) -> tuple:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axes)


class Quantizer:
    """Base class of quantizers: callables turning a float tensor into a
    quantized tensor.

    Subclasses override `__call__` (returning the quantized tensor and what is
    needed to undo it) and `get_config`.

    Args:
        output_dtype: Dtype of the quantized values. Defaults to `"int8"`.
    """

    def __init__(self, output_dtype="int8"):
        self.output_dtype = output_dtype

    def __call__(self, x):
        """The base quantizer returns `x` unchanged."""
        return x

    @classmethod
    def from_config(cls, config):
        """A quantizer of this class from a `get_config()` dict."""
        return cls(**config)

    def get_config(self):
        """The constructor arguments as a dict (subclasses must implement it).

        Raises:
            NotImplementedError: always, on the base class.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement get_config() to be serialized."
        )


@op
def abs_max_quantize(
    inputs,
    axis,
    value_range=(-127, 127),
    dtype="int8",
    epsilon=1e-7,
    to_numpy=False,
):
    """Symmetric quantization by the absolute maximum along `axis`.

    `scale = value_range[1] / (max(|inputs|, axis, keepdims) + epsilon)`; the
    quantized values are `clip(round(inputs * scale), *value_range)` in `dtype`.
    Dividing them by `scale` recovers the inputs approximately.

    Args:
        inputs: Float tensor (or array) to quantize.
        axis: Axis, or tuple of axes, reduced to find the maximum.
        value_range: `(low, high)` of the quantized values. Defaults to
            `(-127, 127)`.
        dtype: Dtype of the quantized values. Defaults to `"int8"`.
        epsilon: Added to the maximum so all-zero slices do not divide by zero.
            Defaults to 1e-7 (`None` means `lamina.config.epsilon()`).
        to_numpy: Compute on the host with NumPy (saves device memory for big
            weights). Defaults to `False`.

    Returns:
        A tuple `(quantized, scale)` of tensors; `scale` keeps the reduced axes
        with size 1 and has the inputs' dtype.
    """
    if epsilon is None:
        epsilon = backend.epsilon()
    inputs = _tensor(inputs)
    source_dtype = inputs.dtype
    dims = _dims(axis, inputs.ndim)
    if to_numpy:
        array = backend.convert_to_numpy(inputs)
        scale = np.divide(
            value_range[1],
            np.add(np.max(np.abs(array), axis=dims, keepdims=True), epsilon),
        )
        outputs = np.clip(np.round(array * scale), value_range[0], value_range[1])
        return (
            _tensor(outputs.astype(dtype)).to(inputs.device),
            _tensor(scale).to(device=inputs.device, dtype=source_dtype),
        )
    amax = torch.amax(torch.abs(inputs), dim=dims, keepdim=True)
    # torch.divide, as Keras's ops.divide: `number / tensor` is a reciprocal
    # then a multiply in torch, one ulp away in a quarter of the cases (which
    # flips int8 roundings at .5).
    scale = torch.divide(value_range[1], amax + epsilon).to(source_dtype)
    outputs = torch.clamp(torch.round(inputs * scale), value_range[0], value_range[1])
    return outputs.to(backend.to_torch_dtype(dtype)), scale


class AbsMaxQuantizer(Quantizer):
    """Quantizer applying `abs_max_quantize` along an axis.

    Args:
        axis: Deprecated: give the axis when calling instead. Defaults to
            `None` (the last axis unless the call names one).
        value_range: `(low, high)` of the quantized values; within
            `[-128, 127]` for int8. Defaults to `(-127, 127)`.
        epsilon: Guard against dividing by zero. Defaults to 1e-7.
        output_dtype: Dtype of the quantized values. Defaults to `"int8"`.

    Raises:
        ValueError: if `value_range` does not fit `output_dtype="int8"`.

    Example:
    >>> q, scale = lamina.quantizers.AbsMaxQuantizer()(np.array([[1.0, -2.0]]))
    >>> q.tolist(), scale.shape
    ([[64, -127]], torch.Size([1, 1]))
    """

    def __init__(
        self,
        axis=None,
        value_range=(-127, 127),
        epsilon=1e-7,
        output_dtype="int8",
    ):
        Quantizer.__init__(self, output_dtype=output_dtype)
        if epsilon is None:
            epsilon = backend.epsilon()
        self.axis = None if axis is None else _dims_tuple(axis)
        self.value_range = value_range
        self.epsilon = epsilon
        if output_dtype == "int8" and (value_range[0] < -128 or value_range[1] > 127):
            raise ValueError(
                "AbsMaxQuantizer with output_dtype='int8' needs value_range within "
                f"[-128, 127]; got value_range={value_range!r}."
            )

    def __call__(self, x, axis=None, to_numpy=False):
        """Quantize `x`.

        Args:
            x: Tensor to quantize.
            axis: Axis (or axes) to reduce. Defaults to the constructor's
                `axis`, else `-1`.
            to_numpy: Compute with NumPy on the host. Defaults to `False`.

        Returns:
            A tuple `(quantized, scale)`.
        """
        if axis is None:
            axis = self.axis if self.axis is not None else -1
        # Real tensors (a quantized layer's inputs, every call) skip the
        # symbolic-tensor dispatch of the public op.
        quantize = _eager_abs_max if isinstance(x, torch.Tensor) else abs_max_quantize
        return quantize(
            x, axis, self.value_range, self.output_dtype, self.epsilon, to_numpy
        )

    def get_config(self):
        config = {
            "value_range": self.value_range,
            "epsilon": self.epsilon,
            "output_dtype": self.output_dtype,
        }
        if self.axis is not None:
            config["axis"] = self.axis
        return config


_eager_abs_max = abs_max_quantize.__wrapped__


def _dims_tuple(axis) -> tuple:
    return (axis,) if isinstance(axis, int) else tuple(axis)


@op
def abs_max_quantize_grouped_with_zero_point(
    inputs,
    block_size,
    value_range=(-8, 7),
    dtype="int8",
    epsilon=1e-7,
    to_numpy=False,
):
    """Asymmetric quantization of a 2-D `(input_dim, output_dim)` tensor in
    groups of `block_size` rows, each group and column with its own scale and
    zero point.

    Args:
        inputs: Float tensor of shape `(input_dim, output_dim)`.
        block_size: Rows per group (the last group is zero-padded).
        value_range: `(qmin, qmax)`. Defaults to `(-8, 7)` (int4).
        dtype: Dtype of the quantized values. Defaults to `"int8"`.
        epsilon: Added to each group's range. Defaults to 1e-7.
        to_numpy: Compute with NumPy on the host. Defaults to `False`.

    Returns:
        A tuple `(quantized, scale, zero_point)`: `quantized` has the inputs'
        shape; `scale` and `zero_point` (int8) have shape
        `(ceil(input_dim / block_size), output_dim)`.
    """
    if epsilon is None:
        epsilon = backend.epsilon()
    inputs = _tensor(inputs)
    if inputs.ndim != 2:
        raise ValueError(
            "abs_max_quantize_grouped_with_zero_point expects a 2-D tensor "
            f"(input_dim, output_dim); got shape {tuple(inputs.shape)}."
        )
    qmin, qmax = value_range
    input_dim, output_dim = inputs.shape
    n_groups = math.ceil(input_dim / block_size)
    padded = n_groups * block_size
    if to_numpy:
        array = backend.convert_to_numpy(inputs)
        array = np.concatenate(
            [array, np.zeros((padded - input_dim, output_dim), array.dtype)]
        ).reshape(n_groups, block_size, output_dim)
        low = array.min(axis=1, keepdims=True)
        scale = (array.max(axis=1, keepdims=True) - low + epsilon) / (qmax - qmin)
        zero = np.clip(np.round(-low / scale) + qmin, qmin, qmax)
        values = np.clip(np.round(array / scale) + zero, qmin, qmax)
        values = values.astype(dtype).reshape(padded, output_dim)[:input_dim]
        return (
            _tensor(values),
            _tensor(scale[:, 0]).to(inputs.dtype),
            _tensor(zero[:, 0].astype("int8")),
        )
    # Tensor path, as Keras computes it: equal min and max widen to +-1 and
    # (with n_groups == 1) the whole column is one group.
    source = torch.nn.functional.pad(inputs, (0, 0, 0, padded - input_dim))
    if n_groups > 1:
        grouped = source.reshape(n_groups, block_size, output_dim)
    else:
        grouped = inputs.reshape(1, input_dim, output_dim)
    low = grouped.amin(dim=1)
    high = grouped.amax(dim=1)
    same = low == high
    low = torch.where(same, low - 1, low)
    high = torch.where(same, high + 1, high)
    bits = int(math.log2(qmax - qmin + 1))
    scale = (high - low + epsilon) / float(2**bits - 1)
    scale = torch.where(scale <= 0, torch.full_like(scale, 1e-8), scale)
    zero = torch.clamp(torch.round(-low / scale) + qmin, qmin, qmax)
    values = torch.round(
        source.reshape(n_groups, block_size, output_dim) / scale[:, None]
    )
    values = torch.clamp(values + zero[:, None], qmin, qmax)
    values = values.reshape(padded, output_dim)[:input_dim]
    return (
        values.to(backend.to_torch_dtype(dtype)),
        scale,
        zero.to(torch.int8),
    )


# --- fake quantization --------------------------------------------------------------


def _nudged_range(min_range, max_range, num_bits, narrow_range):
    """The `[min, max]` range moved so that 0.0 is exactly representable."""
    quant_max = (1 << num_bits) - 1
    quant_min = 1 if narrow_range else 0
    span = max_range - min_range
    scale = span / (quant_max - quant_min)
    inv_scale = (quant_max - quant_min) / span
    zero_point = torch.round(
        torch.clamp(quant_min - min_range / scale, quant_min, quant_max)
    )
    nudged_min = (quant_min - zero_point) * scale
    nudged_max = (quant_max - zero_point) * scale
    return nudged_min, nudged_max, scale, inv_scale


class _FakeQuant(torch.autograd.Function):
    """Quantize-dequantize forward; straight-through gradient inside the
    range, routed to `min`/`max` outside it."""

    @staticmethod
    def forward(ctx, x, min_vals, max_vals, num_bits, narrow_range, axis):
        compute = torch.promote_types(min_vals.dtype, torch.float32)
        nudged_min, nudged_max, scale, inv_scale = _nudged_range(
            min_vals.to(compute), max_vals.to(compute), num_bits, narrow_range
        )
        quant_zero = torch.floor(-nudged_min * inv_scale + 0.5)
        clamped = torch.minimum(torch.maximum(x.to(compute), nudged_min), nudged_max)
        shifted = clamped - nudged_min
        result = torch.floor(shifted * inv_scale - quant_zero + 0.5) * scale
        ctx.save_for_backward(x, nudged_min, nudged_max)
        ctx.axis = axis
        ctx.min_shape, ctx.max_shape = min_vals.shape, max_vals.shape
        ctx.min_dtype, ctx.max_dtype = min_vals.dtype, max_vals.dtype
        return result.to(x.dtype)

    @staticmethod
    def backward(ctx, upstream):
        x, nudged_min, nudged_max = ctx.saved_tensors
        zero = torch.zeros((), dtype=upstream.dtype, device=upstream.device)
        inside = (x >= nudged_min) & (x <= nudged_max)
        grad_x = torch.where(inside, upstream, zero)
        grad_min = torch.where(x <= nudged_min, upstream, zero)
        grad_max = torch.where(x >= nudged_max, upstream, zero)
        if ctx.axis is None:
            grad_min, grad_max = grad_min.sum(), grad_max.sum()
        else:
            others = [i for i in range(x.ndim) if i != ctx.axis]
            grad_min, grad_max = grad_min.sum(dim=others), grad_max.sum(dim=others)
        grad_min = grad_min.reshape(ctx.min_shape).to(ctx.min_dtype)
        grad_max = grad_max.reshape(ctx.max_shape).to(ctx.max_dtype)
        return grad_x, grad_min, grad_max, None, None, None


@op
def fake_quant_with_min_max_vars(
    inputs,
    min_vals,
    max_vals,
    num_bits=8,
    narrow_range=False,
    axis=None,
):
    """Quantize to `num_bits` within `[min_vals, max_vals]` and back to float.

    The range is first nudged so that 0.0 is exactly representable. The values
    are mapped to `[0, 2**num_bits - 1]` (`[1, ...]` with `narrow_range`),
    rounded and mapped back. The gradient passes straight through for inputs
    inside the range; for inputs clipped below (above) it flows to `min_vals`
    (`max_vals`) instead, so the range can be trained.

    Args:
        inputs: Float tensor.
        min_vals: Scalar minimum, or one per channel along `axis`.
        max_vals: Scalar maximum, or one per channel along `axis`.
        num_bits: Bit width. Defaults to `8`.
        narrow_range: Leave out the lowest quantized value. Defaults to `False`.
        axis: The channel axis for per-channel ranges; `None` for one range.
            Defaults to `None`.

    Returns:
        A tensor of the inputs' shape and dtype.
    """
    inputs = _tensor(inputs)
    min_vals = _tensor(min_vals).to(inputs.device)
    max_vals = _tensor(max_vals).to(inputs.device)
    if axis is not None:
        axis = axis % inputs.ndim
    return _FakeQuant.apply(
        inputs, min_vals, max_vals, int(num_bits), bool(narrow_range), axis
    )


# --- float8 -------------------------------------------------------------------------


@op
def compute_float8_scale(amax, scale, dtype_max, margin=0):
    """The next float8 scaling factor from the recent absolute maximum.

    The new scale is `amax / dtype_max * 2**margin` (the reciprocal of the
    factor that maps `amax` onto the float8 maximum); where `amax` is zero or
    not finite the old `scale` is kept.

    Args:
        amax: Recent absolute maximum of the tensor being scaled.
        scale: The current scale.
        dtype_max: Largest finite value of the float8 format.
        margin: Headroom in powers of two. Defaults to `0`.

    Returns:
        The new scale tensor.
    """
    amax, scale = _tensor(amax), _tensor(scale)
    dtype_max = _tensor(dtype_max)
    old_factor = torch.reciprocal(scale)
    factor = dtype_max / amax / (2**margin)
    factor = torch.where(amax > 0.0, factor, old_factor)
    factor = torch.where(torch.isfinite(amax), factor, old_factor)
    return torch.reciprocal(factor)


@op
def compute_float8_amax_history(x, amax_history):
    """Roll `amax_history` by one and record `max(|x|)` in its first slot.

    Args:
        x: The tensor just seen.
        amax_history: 1-D history of absolute maxima.

    Returns:
        The updated history (a new tensor).
    """
    x, amax_history = _tensor(x), _tensor(amax_history)
    amax = torch.amax(torch.abs(x)).to(amax_history.dtype)
    history = torch.roll(amax_history, shifts=-1, dims=0).clone()
    history[0] = amax
    return history


_FLOAT8 = {
    "float8_e4m3fn": torch.float8_e4m3fn,
    "float8_e5m2": torch.float8_e5m2,
}


@op
def quantize_and_dequantize(inputs, scale, quantized_dtype, compute_dtype):
    """Divide by `scale`, clip and cast to `quantized_dtype` (e.g.
    `"float8_e4m3fn"`), then cast back to `compute_dtype` and multiply by
    `scale`: the values a float8 matmul would see.

    Args:
        inputs: Float tensor.
        scale: Scaling factor (a tensor or float).
        quantized_dtype: A float8 dtype name, `"float8_e4m3fn"` or
            `"float8_e5m2"`.
        compute_dtype: Dtype of the result.

    Returns:
        A tensor of `compute_dtype`.
    """
    inputs = _tensor(inputs)
    compute = backend.to_torch_dtype(compute_dtype)
    quantized = _FLOAT8.get(str(quantized_dtype)) or backend.to_torch_dtype(
        quantized_dtype
    )
    scale = _tensor(scale).to(device=inputs.device, dtype=compute)
    top = float(torch.finfo(quantized).max)
    # Keras divides the inputs as they come (float32 inputs with a bfloat16
    # scale divide in float32) and casts once to float8: casting the inputs
    # to `compute_dtype` first would round twice.
    x = torch.clamp(torch.divide(inputs, scale), -top, top).to(quantized)
    return x.to(compute) * scale


# --- int4 packing -----------------------------------------------------------------


def pack_int4(arr, axis=0, dtype="int8"):
    """Pack int4 values (int8 in `[-8, 7]`) two to a byte along `axis`.

    Element `2i` goes into the low nibble and element `2i + 1` into the high
    nibble of output element `i`; an odd length is padded with one zero.

    Args:
        arr: Tensor of dtype `dtype` holding values in `[-8, 7]`.
        axis: Axis to pack. Defaults to `0`.
        dtype: `"int8"` or `"uint8"`. Defaults to `"int8"`.

    Returns:
        A tuple `(packed, packed_shape, original_length)`.

    Raises:
        ValueError: for another `dtype`. TypeError: if `arr` is not of `dtype`.

    Example:
    >>> packed, shape, n = lamina.quantizers.pack_int4(
    ...     np.array([[-3, 7], [2, -8], [1, 0]], dtype="int8"))
    >>> packed.tolist(), shape, n
    ([[45, -121], [1, 0]], (2, 2), 3)
    """
    _check_pack_dtype(dtype)
    source = _tensor(arr)
    got = backend.standardize_dtype(source.dtype)
    if got != dtype:
        raise TypeError(f"pack_int4 expects a {dtype} tensor to pack; got {got}.")
    array = np.moveaxis(backend.convert_to_numpy(source), axis, 0)
    length = array.shape[0]
    if length % 2:
        array = np.concatenate([array, np.zeros((1,) + array.shape[1:], array.dtype)])
    np_dtype = np.dtype(dtype)
    mask = np.array(0x0F, dtype=np_dtype)
    low = np.bitwise_and(array[::2].astype(np_dtype), mask)
    high = np.bitwise_and(array[1::2].astype(np_dtype), mask)
    packed = np.bitwise_or(low, np.left_shift(high, np.array(4, dtype=np_dtype)))
    packed = np.moveaxis(packed.astype(np_dtype), 0, axis)
    return _tensor(packed).to(source.device), tuple(packed.shape), length


@op
def unpack_int4(packed, orig_len, axis=0, dtype="int8"):
    """Undo `pack_int4`: split each byte into two int4 values along `axis`.

    Args:
        packed: int8 or uint8 tensor from `pack_int4`.
        orig_len: Length of `axis` before packing (drops the padding).
        axis: The packed axis. Defaults to `0`.
        dtype: `"int8"` (values in `[-8, 7]`) or `"uint8"` (`[0, 15]`).
            Defaults to `"int8"`.

    Returns:
        A tensor of `dtype` whose `axis` has length `orig_len`.

    Raises:
        ValueError: for another `dtype`. TypeError: if `packed` is not int8 or
            uint8.
    """
    _check_pack_dtype(dtype)
    packed = _tensor(packed)
    if packed.dtype not in (torch.int8, torch.uint8):
        raise TypeError(
            "unpack_int4 expects an int8 or uint8 tensor; got "
            f"{backend.standardize_dtype(packed.dtype)}."
        )
    moved = torch.movedim(packed, axis, 0)
    low = torch.bitwise_and(moved, 0x0F)
    high = torch.bitwise_and(torch.bitwise_right_shift(moved, 4), 0x0F)
    if dtype == "int8":
        # Nibbles 8..15 are the negative values -8..-1.
        low = torch.bitwise_xor(low, 8) - 8
        high = torch.bitwise_xor(high, 8) - 8
    target = backend.to_torch_dtype(dtype)
    both = torch.stack([low.to(target), high.to(target)], dim=1)
    both = both.reshape((-1,) + tuple(moved.shape[1:]))[:orig_len]
    return torch.movedim(both, 0, axis)


def _check_pack_dtype(dtype):
    if dtype not in ("int8", "uint8"):
        raise ValueError(f"Expected dtype to be 'int8' or 'uint8'; got {dtype!r}.")
