"""Tensors made from a shape or from data: `ones`, `zeros`, `full`, `empty`,
`arange`, `linspace`, `logspace`, `geomspace`, `eye`, `identity`, `tri`, `array`.

New tensors live on lamina's device. With `dtype=None`: `ones`, `zeros`,
`full`, `linspace` and `eye` give floatx; `arange` gives int32 for int
arguments and floatx when any argument is a float, as Keras does; `*_like`
keep the dtype of `x`.
"""

import math

import numpy as np
import torch

from lamina.backend import convert_to_tensor, floatx, get_device, to_torch_dtype
from lamina.ops._utils import Tensor, shape_tuple, to_tensor
from lamina.ops.operation import op


def _dtype(dtype) -> torch.dtype:
    return to_torch_dtype(floatx() if dtype is None else dtype)


@op
def zeros(shape, dtype=None) -> Tensor:
    """A tensor of `shape` filled with 0."""
    return torch.zeros(
        shape_tuple("zeros", shape), dtype=_dtype(dtype), device=get_device()
    )


@op
def ones(shape, dtype=None) -> Tensor:
    """A tensor of `shape` filled with 1."""
    return torch.ones(
        shape_tuple("ones", shape), dtype=_dtype(dtype), device=get_device()
    )


@op
def full(shape, fill_value, dtype=None) -> Tensor:
    """A tensor of `shape` filled with `fill_value` (a number, or a tensor that
    broadcasts to `shape`)."""
    shape = shape_tuple("full", shape)
    dtype = _dtype(dtype)
    if isinstance(fill_value, (bool, int, float)):
        return torch.full(shape, fill_value, dtype=dtype, device=get_device())
    fill = to_tensor(fill_value, device=get_device())
    return torch.empty(shape, dtype=dtype, device=fill.device).copy_(fill)


@op
def zeros_like(x, dtype=None) -> Tensor:
    """Zeros with `x`'s shape, device and (unless given) dtype."""
    dtype = None if dtype is None else to_torch_dtype(dtype)
    return torch.zeros_like(to_tensor(x), dtype=dtype)


@op
def ones_like(x, dtype=None) -> Tensor:
    """Ones with `x`'s shape, device and (unless given) dtype."""
    dtype = None if dtype is None else to_torch_dtype(dtype)
    return torch.ones_like(to_tensor(x), dtype=dtype)


@op
def full_like(x, fill_value, dtype=None) -> Tensor:
    """`fill_value` with `x`'s shape, device and (unless given) dtype."""
    x = to_tensor(x)
    dtype = None if dtype is None else to_torch_dtype(dtype)
    if isinstance(fill_value, (bool, int, float)):
        return torch.full_like(x, fill_value, dtype=dtype)
    fill = to_tensor(fill_value, device=x.device)
    return torch.empty_like(x, dtype=dtype).copy_(fill)


def _number(name, value):
    """A Python number from an int/float/0-d array argument."""
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        if value.ndim != 0:
            raise ValueError(
                f"ops.{name} expects scalar bounds; got shape {tuple(value.shape)}."
            )
        return value.item()
    return value


@op
def arange(start, stop=None, step=None, dtype=None) -> Tensor:
    """Evenly spaced values in `[start, stop)`; `arange(n)` is `0, 1, ..., n-1`.

    Example:
    >>> lamina.ops.arange(1, 7, 2).tolist()
    [1, 3, 5]
    """
    start, stop, step = (_number("arange", v) for v in (start, stop, step))
    if stop is None:
        start, stop = 0, start
    if step is None:
        step = 1
    if step == 0:
        raise ValueError("ops.arange got step=0; the step must be nonzero.")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, stop, step))
        torch_dtype = to_torch_dtype(floatx()) if is_float else torch.int32
    else:
        torch_dtype = to_torch_dtype(dtype)
    return torch.arange(start, stop, step, dtype=torch_dtype, device=get_device())


@op
def linspace(
    start,
    stop,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype=None,
    axis: int = 0,
):
    """`num` evenly spaced values from `start` to `stop` (included when
    `endpoint`). Array bounds give one sequence per element, along `axis`.
    With `retstep=True` also returns the spacing."""
    if num < 0:
        raise ValueError(f"ops.linspace expects num >= 0; got num={num}.")
    out_dtype = _dtype(dtype)
    compute = out_dtype if out_dtype.is_floating_point else to_torch_dtype(floatx())
    divisions = (num - 1) if endpoint else num
    scalar = all(
        isinstance(v, (int, float)) or getattr(v, "ndim", 1) == 0 for v in (start, stop)
    )
    if scalar:
        start, stop = (
            float(_number("linspace", start)),
            float(_number("linspace", stop)),
        )
        if endpoint or num == 0:
            samples = torch.linspace(
                start, stop, num, dtype=compute, device=get_device()
            )
        else:
            samples = torch.linspace(
                start, stop, num + 1, dtype=compute, device=get_device()
            )[:-1]
        step = (stop - start) / divisions if divisions > 0 else float("nan")
    else:
        start = to_tensor(start, device=get_device()).to(compute)
        stop = to_tensor(stop, device=start.device).to(compute)
        start, stop = torch.broadcast_tensors(start, stop)
        step = (
            (stop - start) / divisions
            if divisions > 0
            else torch.full_like(start, float("nan"))
        )
        fractions = torch.arange(num, dtype=compute, device=start.device)
        fractions = fractions.reshape((-1,) + (1,) * start.ndim)
        samples = start + fractions * ((stop - start) / max(divisions, 1))
        if endpoint and num > 1:
            samples[-1] = stop
        samples = torch.movedim(samples, 0, axis)
    samples = samples.to(out_dtype)
    return (samples, step) if retstep else samples


@op
def eye(N: int, M=None, k: int = 0, dtype=None) -> Tensor:
    """An `N x M` matrix (M defaults to N) with ones on diagonal `k`."""
    M = N if M is None else M
    dtype = _dtype(dtype)
    if k == 0:
        return torch.eye(N, M, dtype=dtype, device=get_device())
    rows = torch.arange(N, device=get_device()).unsqueeze(1)
    cols = torch.arange(M, device=get_device()).unsqueeze(0)
    return (cols - rows == k).to(dtype)


@op
def identity(n: int, dtype=None) -> Tensor:
    """The `n x n` identity matrix."""
    return torch.eye(n, dtype=_dtype(dtype), device=get_device())


@op
def tri(N: int, M=None, k: int = 0, dtype=None) -> Tensor:
    """An `N x M` matrix (M defaults to N) with ones on and below diagonal `k`."""
    M = N if M is None else M
    ones = torch.ones((N, M), dtype=_dtype(dtype), device=get_device())
    return torch.tril(ones, diagonal=k)


@op
def empty(shape, dtype=None) -> Tensor:
    """An uninitialized tensor of `shape` (its values are arbitrary)."""
    return torch.empty(
        shape_tuple("empty", shape), dtype=_dtype(dtype), device=get_device()
    )


@op
def empty_like(x, dtype=None) -> Tensor:
    """An uninitialized tensor with `x`'s shape, device and (unless given) dtype."""
    dtype = None if dtype is None else to_torch_dtype(dtype)
    return torch.empty_like(to_tensor(x), dtype=dtype)


@op
def array(x, dtype=None) -> Tensor:
    """`x` (a tensor, array, list or number) as a tensor, cast to `dtype` if
    given; Python ints give int32 and floats floatx, as in Keras."""
    if dtype is None:
        return to_tensor(x, device=get_device())
    dtype = to_torch_dtype(dtype)
    if isinstance(x, Tensor):
        return x.to(dtype)
    return convert_to_tensor(x, dtype=dtype)


def _float_dtype(dtype, *values) -> torch.dtype:
    """`dtype` if given, else the floating dtype of tensor bounds, else floatx."""
    if dtype is not None:
        return to_torch_dtype(dtype)
    for value in values:
        if isinstance(value, Tensor) and value.dtype.is_floating_point:
            return value.dtype
    return to_torch_dtype(floatx())


@op
def logspace(
    start, stop, num: int = 50, endpoint: bool = True, base=10, dtype=None, axis=0
) -> Tensor:
    """`num` values from `base ** start` to `base ** stop`, evenly spaced on a
    log scale; array bounds give one sequence per element, along `axis`."""
    out_dtype = _float_dtype(dtype, start, stop)
    compute = out_dtype if out_dtype.is_floating_point else to_torch_dtype(floatx())
    exponents = linspace(
        start, stop, num=num, endpoint=endpoint, dtype=compute, axis=axis
    )
    return torch.pow(base, exponents).to(out_dtype)


@op
def geomspace(
    start, stop, num: int = 50, endpoint: bool = True, dtype=None, axis=0
) -> Tensor:
    """`num` values from `start` to `stop` in a geometric progression (each a
    constant multiple of the last); the bounds must be nonzero and of one sign."""
    out_dtype = _float_dtype(dtype, start, stop)
    compute = out_dtype if out_dtype.is_floating_point else to_torch_dtype(floatx())
    if all(isinstance(v, (int, float)) for v in (start, stop)):
        # Python bounds: exponents and sign on the host, so linspace gets
        # numbers, not 0-d device tensors it would have to read back.
        exponents = linspace(
            *(math.log10(abs(v)) if v else -math.inf for v in (start, stop)),
            num=num,
            endpoint=endpoint,
            dtype=compute,
            axis=axis,
        )
        sign = (start > 0) - (start < 0)
        return (sign * torch.pow(10.0, exponents)).to(out_dtype)
    start = torch.as_tensor(
        _to_device_tensor(start), dtype=compute, device=get_device()
    )
    stop = torch.as_tensor(_to_device_tensor(stop), dtype=compute, device=get_device())
    exponents = linspace(
        torch.log10(torch.abs(start)),
        torch.log10(torch.abs(stop)),
        num=num,
        endpoint=endpoint,
        dtype=compute,
        axis=axis,
    )
    sign = torch.sign(start)
    if sign.ndim:
        sign = torch.movedim(sign.unsqueeze(0), 0, axis)
    return (sign * torch.pow(10.0, exponents)).to(out_dtype)


def _to_device_tensor(value):
    if isinstance(value, Tensor):
        return value.to(get_device())
    return to_tensor(value, device=get_device())
