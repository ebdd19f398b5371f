"""Reductions, scans and sorting: `sum`, `mean`, `argmax`, `cumsum`, `sort`, ...

`axis=None` reduces over every axis; an int or a tuple of ints names the axes;
`keepdims=True` keeps reduced axes with size 1. dtypes follow Keras: sums of
bool and small integers are int32, means and variances of integers are floatx,
index results (`argmax`, `argsort`, `count_nonzero`) are int32.
"""

import torch

from lamina.backend import result_type, to_torch_dtype
from lamina.ops._utils import (
    Tensor,
    accumulate_dtype,
    axis_error,
    check_axis,
    to_float,
    to_tensor,
)
from lamina.ops.operation import op


def _all_axes(x: Tensor) -> tuple:
    return tuple(range(x.ndim))


@op
def sum(x, axis=None, keepdims: bool = False) -> Tensor:
    """Sum of elements over `axis`.

    Example:
    >>> lamina.ops.sum([[1, 2], [3, 4]], axis=0).tolist()
    [4, 6]
    """
    x = to_tensor(x)
    if type(axis) is int and x.is_floating_point():  # the hot path, kept short
        try:
            return torch.sum(x, dim=axis, keepdim=keepdims)
        except IndexError:
            raise axis_error("sum", axis, x.ndim) from None
    axis = check_axis("sum", axis, x.ndim)
    dtype = accumulate_dtype(x)
    if axis is None:
        if keepdims:
            return torch.sum(x, dim=_all_axes(x), keepdim=True, dtype=dtype)
        return torch.sum(x, dtype=dtype)
    if axis == ():
        return x if dtype is None else x.to(dtype)
    return torch.sum(x, dim=axis, keepdim=keepdims, dtype=dtype)


@op
def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over `axis`; integer inputs give floatx, as in Keras."""
    x = to_float(to_tensor(x))
    if type(axis) is int:  # the hot path, kept short
        try:
            return torch.mean(x, dim=axis, keepdim=keepdims)
        except IndexError:
            raise axis_error("mean", axis, x.ndim) from None
    axis = check_axis("mean", axis, x.ndim)
    if axis is None:
        if keepdims:
            return torch.mean(x, dim=_all_axes(x), keepdim=True)
        return torch.mean(x)
    if axis == ():
        return x
    return torch.mean(x, dim=axis, keepdim=keepdims)


def _extreme(name, reduce, clamp_arg, x, axis, keepdims, initial):
    x = to_tensor(x)
    axis = check_axis(name, axis, x.ndim)
    if axis == ():
        result = x  # NumPy: no axis reduced
    else:
        if axis is None:
            axis = _all_axes(x) if keepdims else ()  # torch: () is every axis
        if x.numel() == 0 and initial is not None:
            # NumPy: an empty reduction is `initial` (torch refuses empty input).
            shape = torch.sum(x, dim=axis, keepdim=keepdims).shape
            return torch.full(shape, initial, dtype=x.dtype, device=x.device)
        result = reduce(x, dim=axis, keepdim=keepdims)
    if initial is not None:
        # The input's dtype, as in Keras (torch.clamp makes bools int64).
        result = torch.clamp(result, **{clamp_arg: initial}).to(x.dtype)
    return result


@op
def max(x, axis=None, keepdims: bool = False, initial=None) -> Tensor:
    """Largest element over `axis` (at least `initial` when given)."""
    return _extreme("max", torch.amax, "min", x, axis, keepdims, initial)


@op
def min(x, axis=None, keepdims: bool = False, initial=None) -> Tensor:
    """Smallest element over `axis` (at most `initial` when given)."""
    return _extreme("min", torch.amin, "max", x, axis, keepdims, initial)


@op
def prod(x, axis=None, keepdims: bool = False, dtype=None) -> Tensor:
    """Product of elements over `axis`; bool and small integers give int32."""
    x = to_tensor(x)
    axis = check_axis("prod", axis, x.ndim)
    dtype = accumulate_dtype(x) if dtype is None else to_torch_dtype(dtype)
    if axis is None:
        result = torch.prod(x, dtype=dtype)
        return result.reshape((1,) * x.ndim) if keepdims else result
    if type(axis) is int:
        return torch.prod(x, dim=axis, keepdim=keepdims, dtype=dtype)
    if dtype is not None:
        x = x.to(dtype)
    # torch.prod reduces one axis at a time; go from the last so indices hold.
    for a in sorted((a % x.ndim for a in axis), reverse=True):
        x = torch.prod(x, dim=a, keepdim=keepdims)
    return x


def _moment(name, x, axis, keepdims, fn):
    x = to_float(to_tensor(x))
    axis = check_axis(name, axis, x.ndim)
    if axis == ():
        # NumPy: no axis reduced, each value is its own mean (torch reads an
        # empty `dim` as every axis); NaN and infinities give NaN.
        return (x - x).abs()
    if axis is None and keepdims:
        axis = _all_axes(x)
    return fn(x, dim=axis, correction=0, keepdim=keepdims)


@op
def var(x, axis=None, keepdims: bool = False) -> Tensor:
    """Population variance (divides by N) over `axis`; integers give floatx."""
    return _moment("var", x, axis, keepdims, torch.var)


@op
def std(x, axis=None, keepdims: bool = False) -> Tensor:
    """Population standard deviation (divides by N) over `axis`."""
    return _moment("std", x, axis, keepdims, torch.std)


def _arg_extreme(name, fn, x, axis, keepdims):
    x = to_tensor(x)
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)  # torch has no argmax for bool
    axis = check_axis(name, axis, x.ndim)
    if axis is None:
        result = fn(x.reshape(-1))
        if keepdims:
            result = result.reshape((1,) * x.ndim)
    elif type(axis) is not int:
        raise TypeError(
            f"ops.{name} expects `axis` to be an int or None; got axis={axis!r}."
        )
    else:
        result = fn(x, dim=axis, keepdim=keepdims)
    return result.to(torch.int32)


@op
def argmax(x, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the largest element (the first one on ties), as int32."""
    return _arg_extreme("argmax", torch.argmax, x, axis, keepdims)


@op
def argmin(x, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the smallest element (the first one on ties), as int32."""
    return _arg_extreme("argmin", torch.argmin, x, axis, keepdims)


def _sort_axis(name, x, axis):
    x = to_tensor(x)
    if axis is None or x.ndim == 0:  # NumPy sorts a scalar as a 1-element array
        return x.reshape(-1), 0
    axis = check_axis(name, axis, x.ndim, allow_none=False)
    if type(axis) is not int:
        raise TypeError(
            f"ops.{name} expects `axis` to be an int or None; got axis={axis!r}."
        )
    return x, axis


@op
def argsort(x, axis=-1) -> Tensor:
    """Indices that sort `x` along `axis` (stable), as int32; `None` flattens."""
    x, axis = _sort_axis("argsort", x, axis)
    if x.ndim == 0:
        return torch.zeros((), dtype=torch.int32, device=x.device)
    return torch.argsort(x, dim=axis, stable=True).to(torch.int32)


@op
def sort(x, axis=-1) -> Tensor:
    """`x` sorted ascending along `axis`; `None` flattens first."""
    x, axis = _sort_axis("sort", x, axis)
    if x.ndim == 0:
        return x
    return torch.sort(x, dim=axis, stable=True).values


@op
def cumsum(x, axis=None, dtype=None) -> Tensor:
    """Running sum along `axis` (`None`: over the flattened tensor).

    Keeps the input dtype (bool gives int32) unless `dtype` is given.
    """
    x = to_tensor(x)
    if dtype is not None:
        dtype = to_torch_dtype(dtype)
    elif x.dtype == torch.bool:
        dtype = torch.int32
    else:
        dtype = x.dtype
    if axis is None:
        return torch.cumsum(x.reshape(-1), dim=0, dtype=dtype)
    axis = check_axis("cumsum", axis, x.ndim, allow_none=False)
    return torch.cumsum(x, dim=axis, dtype=dtype)


def _logical_reduce(name, fn, x, axis, keepdims):
    x = to_tensor(x)
    if x.dtype is torch.uint8:
        x = x.bool()  # torch.all/any keep uint8 for uint8 inputs
    axis = check_axis(name, axis, x.ndim)
    if axis is None:
        if keepdims:
            return fn(x, dim=_all_axes(x), keepdim=True)
        return fn(x)
    if axis == ():
        return x.bool()
    return fn(x, dim=axis, keepdim=keepdims)


@op
def all(x, axis=None, keepdims: bool = False) -> Tensor:
    """Whether every element over `axis` is true (nonzero)."""
    return _logical_reduce("all", torch.all, x, axis, keepdims)


@op
def any(x, axis=None, keepdims: bool = False) -> Tensor:
    """Whether some element over `axis` is true (nonzero)."""
    return _logical_reduce("any", torch.any, x, axis, keepdims)


@op
def count_nonzero(x, axis=None) -> Tensor:
    """Number of nonzero elements over `axis`, as int32."""
    x = to_tensor(x)
    axis = check_axis("count_nonzero", axis, x.ndim)
    if axis == ():
        return (x != 0).to(torch.int32)
    return torch.count_nonzero(x, dim=axis).to(torch.int32)


@op
def average(x, axis=None, weights=None) -> Tensor:
    """Weighted mean over `axis`: `sum(x * weights) / sum(weights)`.

    `weights` has `x`'s shape, or is 1-D with the length of `x`'s `axis`.
    """
    given = to_tensor(x)
    x = to_float(given)
    axis = check_axis("average", axis, x.ndim)
    if axis == ():  # NumPy: no axis averaged (torch reads `dim=()` as all)
        if weights is None:
            return x.clone()
        weights = to_tensor(weights, device=x.device)
        return x * weights / weights
    if weights is None:
        return torch.mean(x) if axis is None else torch.mean(x, dim=axis)
    weights = to_tensor(weights, device=x.device)
    # Keras: the dtype of `x`, a Python float and `weights` together
    # (int16 data with bfloat16 weights averages in bfloat16).
    dtype = to_torch_dtype(result_type(given.dtype, float, weights.dtype))
    x, weights = given.to(dtype), weights.to(dtype)
    if weights.shape != x.shape:
        if (
            weights.ndim != 1
            or type(axis) is not int
            or (weights.shape[0] != x.shape[axis])
        ):
            raise ValueError(
                "ops.average expects `weights` of the same shape as `x`, or 1-D "
                "with the length of x's `axis`; got weights of shape "
                f"{tuple(weights.shape)} for x of shape {tuple(x.shape)} and "
                f"axis={axis!r}."
            )
        shape = [1] * x.ndim
        shape[axis] = -1
        weights = weights.reshape(shape)
    if axis is None:
        return torch.sum(x * weights) / torch.sum(weights)
    return torch.sum(x * weights, dim=axis) / torch.sum(weights, dim=axis)


@op
def trace(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """Sum of the diagonal `offset` of the 2-D slices on `axis1`, `axis2`."""
    x = to_tensor(x)
    if x.ndim < 2:
        raise ValueError(
            f"ops.trace expects a tensor of rank >= 2; got shape {tuple(x.shape)}."
        )
    check_axis("trace", axis1, x.ndim, allow_none=False)
    check_axis("trace", axis2, x.ndim, allow_none=False)
    diagonal = torch.diagonal(x, offset=offset, dim1=axis1, dim2=axis2)
    return torch.sum(diagonal, dim=-1, dtype=accumulate_dtype(x))


@op
def amax(x, axis=None, keepdims: bool = False) -> Tensor:
    """Largest element over `axis` (NumPy's name for `max`)."""
    return _extreme("amax", torch.amax, "min", x, axis, keepdims, None)


@op
def amin(x, axis=None, keepdims: bool = False) -> Tensor:
    """Smallest element over `axis` (NumPy's name for `min`)."""
    return _extreme("amin", torch.amin, "max", x, axis, keepdims, None)


@op
def ptp(x, axis=None, keepdims: bool = False) -> Tensor:
    """Range of values (`max - min`, "peak to peak") over `axis`."""
    x = to_tensor(x)
    if x.dtype == torch.bool:
        raise TypeError(
            "ops.ptp cannot subtract booleans; got a bool tensor. Cast it first, "
            "e.g. ops.ptp(ops.cast(x, 'int32'))."
        )
    axis = check_axis("ptp", axis, x.ndim)
    if axis == ():
        return torch.zeros_like(x)
    dims = _all_axes(x) if axis is None else axis
    return torch.amax(x, dim=dims, keepdim=keepdims) - torch.amin(
        x, dim=dims, keepdim=keepdims
    )


@op
def cumprod(x, axis=None, dtype=None) -> Tensor:
    """Running product along `axis` (`None`: over the flattened tensor).

    Keeps the input dtype (bool gives int32) unless `dtype` is given.
    """
    x = to_tensor(x)
    if dtype is not None:
        dtype = to_torch_dtype(dtype)
    elif x.dtype == torch.bool:
        dtype = torch.int32
    else:
        dtype = x.dtype
    if axis is None:
        x, axis = x.reshape(-1), 0
    else:
        axis = check_axis("cumprod", axis, x.ndim, allow_none=False)
    if dtype == torch.float16 and x.device.type == "cpu":
        # torch has no float16 cumprod kernel on the CPU.
        return torch.cumprod(x, dim=axis, dtype=torch.float32).to(dtype)
    return torch.cumprod(x, dim=axis, dtype=dtype)
