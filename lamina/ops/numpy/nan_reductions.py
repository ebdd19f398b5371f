"""Reductions and scans that skip NaNs: `nansum`, `nanmean`, `nanmax`, ...

They behave like their namesakes in `reductions.py` with every NaN left out
(integer tensors hold no NaN, so for them they are the plain reductions). A
slice of only NaNs gives 0 for sums, 1 for products, NaN for means, extremes
and variances, and -1 for `nanargmax`/`nanargmin`, as in Keras.
"""

import torch

from lamina.ops._utils import Tensor, accumulate_dtype, check_axis, to_float, to_tensor
from lamina.ops.numpy.reductions import argmax, argmin, cumprod, cumsum, prod
from lamina.ops.operation import op


def _dims(x: Tensor, axis):
    """`axis` (validated) as something torch's `dim=` takes; None: every axis."""
    if axis is None:
        return tuple(range(x.ndim))
    return axis


def _has_nan(x: Tensor) -> bool:
    return x.is_floating_point() or x.is_complex()


@op
def nansum(x, axis=None, keepdims: bool = False) -> Tensor:
    """Sum over `axis`, NaNs counted as zero; bool and small ints give int32."""
    x = to_tensor(x)
    axis = check_axis("nansum", axis, x.ndim)
    dtype = accumulate_dtype(x)
    if axis == ():
        x = torch.nan_to_num(x, nan=0.0) if _has_nan(x) else x
        return x if dtype is None else x.to(dtype)
    if not _has_nan(x):
        return torch.sum(x, dim=_dims(x, axis), keepdim=keepdims, dtype=dtype)
    return torch.nansum(x, dim=_dims(x, axis), keepdim=keepdims)


@op
def nanprod(x, axis=None, keepdims: bool = False) -> Tensor:
    """Product over `axis`, NaNs counted as one."""
    x = to_tensor(x)
    if _has_nan(x):
        x = torch.where(torch.isnan(x), torch.ones_like(x), x)
    if check_axis("nanprod", axis, x.ndim) == ():
        return x
    return prod(x, axis=axis, keepdims=keepdims)


def _nan_extreme(name, reduce, fill, x, axis, keepdims) -> Tensor:
    x = to_tensor(x)
    axis = check_axis(name, axis, x.ndim)
    if axis == ():
        return x
    dims = _dims(x, axis)
    if not x.is_floating_point():
        return reduce(x, dim=dims, keepdim=keepdims)
    nan = torch.isnan(x)
    best = reduce(torch.where(nan, fill, x), dim=dims, keepdim=keepdims)
    all_nan = torch.all(nan, dim=dims, keepdim=keepdims)
    return torch.where(all_nan, torch.nan, best)


@op
def nanmax(x, axis=None, keepdims: bool = False) -> Tensor:
    """Largest non-NaN element over `axis`."""
    return _nan_extreme("nanmax", torch.amax, -torch.inf, x, axis, keepdims)


@op
def nanmin(x, axis=None, keepdims: bool = False) -> Tensor:
    """Smallest non-NaN element over `axis`."""
    return _nan_extreme("nanmin", torch.amin, torch.inf, x, axis, keepdims)


def _nan_arg_extreme(name, arg_fn, fill, x, axis, keepdims) -> Tensor:
    x = to_tensor(x)
    if not x.is_floating_point():
        return arg_fn(x, axis=axis, keepdims=keepdims)
    nan = torch.isnan(x)
    index = arg_fn(torch.where(nan, fill, x), axis=axis, keepdims=keepdims)
    if axis is None:
        all_nan = torch.all(nan)
        if keepdims:
            all_nan = all_nan.reshape((1,) * x.ndim)
    else:
        all_nan = torch.all(nan, dim=axis, keepdim=keepdims)
    return torch.where(all_nan, -1, index)


@op
def nanargmax(x, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the largest non-NaN element as int32 (-1 for all-NaN slices)."""
    return _nan_arg_extreme("nanargmax", argmax, -torch.inf, x, axis, keepdims)


@op
def nanargmin(x, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the smallest non-NaN element as int32 (-1 for all-NaN slices)."""
    return _nan_arg_extreme("nanargmin", argmin, torch.inf, x, axis, keepdims)


@op
def nanmean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Mean of the non-NaN elements over `axis`; integers give floatx."""
    x = to_float(to_tensor(x))
    axis = check_axis("nanmean", axis, x.ndim)
    if axis == ():
        return x
    return torch.nanmean(x, dim=_dims(x, axis), keepdim=keepdims)


@op
def nanvar(x, axis=None, keepdims: bool = False) -> Tensor:
    """Population variance (divides by the count) of the non-NaN elements."""
    x = to_float(to_tensor(x))
    axis = check_axis("nanvar", axis, x.ndim)
    if axis == ():
        return torch.where(torch.isnan(x), x, torch.zeros_like(x))
    dims = _dims(x, axis)
    valid = ~torch.isnan(x)
    mean = torch.nanmean(x, dim=dims, keepdim=True)
    deviations = torch.where(valid, x - mean, torch.zeros_like(x))
    squares = deviations.abs().square() if x.is_complex() else deviations.square()
    count = torch.sum(valid, dim=dims, keepdim=keepdims)
    return torch.sum(squares, dim=dims, keepdim=keepdims) / count


@op
def nanstd(x, axis=None, keepdims: bool = False) -> Tensor:
    """Population standard deviation of the non-NaN elements."""
    return torch.sqrt(nanvar(x, axis=axis, keepdims=keepdims))


@op
def nancumsum(x, axis=None, dtype=None) -> Tensor:
    """Running sum along `axis`, NaNs counted as zero."""
    x = to_tensor(x)
    if _has_nan(x):
        x = torch.where(torch.isnan(x), torch.zeros_like(x), x)
    return cumsum(x, axis=axis, dtype=dtype)


@op
def nancumprod(x, axis=None, dtype=None) -> Tensor:
    """Running product along `axis`, NaNs counted as one."""
    x = to_tensor(x)
    if _has_nan(x):
        x = torch.where(torch.isnan(x), torch.ones_like(x), x)
    return cumprod(x, axis=axis, dtype=dtype)
