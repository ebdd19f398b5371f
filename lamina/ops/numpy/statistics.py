"""Order statistics and counting: `quantile`, `percentile`, `median` (and their
NaN-ignoring versions), `corrcoef`, `histogram`, `bincount`, `digitize`.

Quantiles follow NumPy's methods ("linear", "lower", "higher", "midpoint",
"nearest"); integer inputs give floatx. `bincount` needs the largest value to
size its result, so it reads data back to the host: keep it out of hot loops.
"""

import math

import numpy as np
import torch

from lamina.backend.shape_inference import inferring
from lamina.ops._utils import (
    Tensor,
    check_axis,
    to_float,
    to_tensor,
)
from lamina.ops.operation import op

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _check_q(name, q, scale) -> None:
    # Only host values are checked: a tensor `q` would cost a device sync.
    if isinstance(q, (int, float, list, tuple, np.ndarray, np.generic)):
        values = np.asarray(q, dtype=np.float64)
        if values.size and (values.min() < 0 or values.max() > scale):
            raise ValueError(
                f"ops.{name} expects `q` within [0, {scale}]; got q={q!r}."
            )


def _quantile(name, reduce, x, q, axis, method, keepdims) -> Tensor:
    if method not in _METHODS:
        raise ValueError(
            f"ops.{name} does not know method={method!r}; expected one of "
            f"{list(_METHODS)}."
        )
    x = to_float(to_tensor(x))
    result_dtype = x.dtype
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()  # torch.quantile wants float32 or float64
    q = torch.as_tensor(q, dtype=x.dtype, device=x.device)
    axis = check_axis(name, axis, x.ndim)
    if axis is None:
        axes = tuple(range(x.ndim))
    elif type(axis) is int:
        axes = (axis % x.ndim,)
    else:
        axes = tuple(sorted(a % x.ndim for a in axis))
    if not axes:  # NumPy: nothing reduced, each value is its own quantile
        return x.expand(tuple(q.shape) + tuple(x.shape)).to(result_dtype)
    # Move the reduced axes last and merge them into one.
    kept = [d for d in range(x.ndim) if d not in axes]
    flat = x.permute(kept + list(axes)).reshape(
        [x.shape[d] for d in kept] + [math.prod(x.shape[d] for d in axes)]
    )
    result = reduce(flat, q, dim=-1, interpolation=method)
    if keepdims:
        offset = q.ndim  # quantile puts q's axes first
        for d in axes:
            result = result.unsqueeze(d + offset)
    return result.to(result_dtype)


@op
def quantile(x, q, axis=None, method: str = "linear", keepdims: bool = False):
    """The `q`-th quantiles (`q` in `[0, 1]`) of `x` over `axis`.

    A non-scalar `q` adds its axes in front of the result.

    Example:
    >>> lamina.ops.quantile([1.0, 2.0, 3.0, 4.0], 0.5).item()
    2.5
    """
    _check_q("quantile", q, 1)
    return _quantile("quantile", torch.quantile, x, q, axis, method, keepdims)


@op
def percentile(x, q, axis=None, method: str = "linear", keepdims: bool = False):
    """The `q`-th percentiles (`q` in `[0, 100]`) of `x` over `axis`."""
    _check_q("percentile", q, 100)
    q = to_tensor(q) / 100.0
    return _quantile("percentile", torch.quantile, x, q, axis, method, keepdims)


@op
def median(x, axis=None, keepdims: bool = False) -> Tensor:
    """Median over `axis` (the mean of the two middle values for even counts)."""
    return _quantile("median", torch.quantile, x, 0.5, axis, "linear", keepdims)


@op
def nanquantile(x, q, axis=None, method: str = "linear", keepdims: bool = False):
    """`quantile` ignoring NaNs (NaN where a slice holds only NaNs)."""
    _check_q("nanquantile", q, 1)
    return _quantile("nanquantile", torch.nanquantile, x, q, axis, method, keepdims)


@op
def nanpercentile(x, q, axis=None, method: str = "linear", keepdims: bool = False):
    """`percentile` ignoring NaNs (`q` in `[0, 100]`)."""
    _check_q("nanpercentile", q, 100)
    q = to_tensor(q) / 100.0
    return _quantile("nanpercentile", torch.nanquantile, x, q, axis, method, keepdims)


@op
def nanmedian(x, axis=None, keepdims: bool = False) -> Tensor:
    """`median` ignoring NaNs."""
    return _quantile("nanmedian", torch.nanquantile, x, 0.5, axis, "linear", keepdims)


@op
def corrcoef(x) -> Tensor:
    """Pearson correlation coefficients between the rows (variables) of `x`."""
    x = to_tensor(x)
    if x.ndim > 2:
        raise ValueError(
            f"ops.corrcoef expects a 1-D or 2-D tensor (variables in rows); got "
            f"shape {tuple(x.shape)}."
        )
    return torch.corrcoef(to_float(x))


@op
def histogram(x, bins: int = 10, range=None) -> tuple:
    """Counts of the values of 1-D `x` in `bins` equal-width bins, and the
    `bins + 1` bin edges, as NumPy's `histogram`.

    `range=(low, high)` limits the bins (values outside are not counted);
    by default it spans `[min(x), max(x)]`. The last bin includes its right edge.
    """
    x = to_float(to_tensor(x))
    if x.ndim != 1:
        raise ValueError(
            f"ops.histogram expects a 1-D tensor (Input tensor must be "
            f"1-dimensional); got shape {tuple(x.shape)}. Flatten it first with "
            "ops.ravel(x)."
        )
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(
            f"ops.histogram expects `bins` to be a positive int (Argument `bins` "
            f"should be a non-negative integer, and not 0); got bins={bins!r}."
        )
    if range is not None:
        if not isinstance(range, (tuple, list)) or len(range) != 2:
            raise ValueError(
                "ops.histogram: Argument `range` must be a tuple of two elements "
                f"(low, high); got range={range!r}."
            )
        if not range[1] > range[0]:
            raise ValueError(
                "ops.histogram: The second element of `range` must be greater "
                f"than the first; got range={range!r}."
            )
    if range is None:
        low, high = torch.aminmax(x) if x.numel() else (x.new_zeros(()),) * 2
    else:
        low, high = (torch.as_tensor(v, dtype=x.dtype, device=x.device) for v in range)
    # NumPy widens an empty range to [low - 0.5, high + 0.5].
    empty = high == low
    low, high = torch.where(empty, low - 0.5, low), torch.where(empty, high + 0.5, high)
    steps = torch.arange(bins + 1, device=x.device, dtype=x.dtype) / bins
    edges = low + steps * (high - low)
    edges[-1] = high
    index = torch.floor((x - low) / (high - low) * bins).to(torch.int64)
    index = torch.where(x == high, bins - 1, index)
    inside = (x >= low) & (x <= high)
    index = torch.where(inside, index.clamp(0, bins - 1), 0)
    counts = torch.zeros(bins, dtype=x.dtype, device=x.device)
    counts.scatter_add_(0, index, inside.to(x.dtype))
    return counts, edges


@op
def bincount(x, weights=None, minlength: int = 0, sparse: bool = False) -> Tensor:
    """Number of occurrences of each value `0, 1, ...` in the non-negative
    integers `x` (summed `weights` instead, if given).

    `x` is 1-D, or 2-D for one count per row. The result has
    `max(minlength, max(x) + 1)` entries per row; int32 without weights.
    """
    if sparse:
        raise ValueError("ops.bincount does not support sparse=True in lamina.")
    if inferring():
        raise ValueError(
            "ops.bincount returns a result whose length depends on the largest "
            "value of `x`, so it cannot be used on symbolic tensors (Input(...) in "
            "a functional model). Call it eagerly on real tensors instead."
        )
    x = to_tensor(x)
    if x.is_floating_point() or x.is_complex() or x.ndim not in (1, 2):
        raise ValueError(
            "ops.bincount expects a 1-D or 2-D tensor of non-negative integers; "
            f"got shape {tuple(x.shape)} and dtype {x.dtype}."
        )
    if x.numel() and int(x.min()) < 0:
        raise ValueError("ops.bincount expects non-negative values; got a negative.")
    length = max(minlength, int(x.max()) + 1 if x.numel() else 0)
    if weights is None:
        dtype, values = torch.int32, torch.ones_like(x, dtype=torch.int32)
    else:
        weights = to_tensor(weights, device=x.device)
        dtype = torch.promote_types(x.dtype, weights.dtype)
        values = torch.broadcast_to(weights, x.shape).to(dtype)
    out = torch.zeros(x.shape[:-1] + (length,), dtype=dtype, device=x.device)
    return out.scatter_add_(-1, x.to(torch.int64), values)


@op
def digitize(x, bins) -> Tensor:
    """Index of the bin each value falls in, for increasing `bins`: `i` such
    that `bins[i-1] <= x < bins[i]`, as int32."""
    x = to_tensor(x)
    bins = to_tensor(bins, device=x.device)
    if bins.ndim != 1:
        # torch checks this on real tensors only: a model build would pass.
        raise ValueError(
            f"ops.digitize expects 1-D `bins`; got bins of shape {tuple(bins.shape)}."
        )
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    if bins.dtype != x.dtype:
        dtype = torch.promote_types(x.dtype, bins.dtype)
        x, bins = x.to(dtype), bins.to(dtype)
    return torch.bucketize(x, bins, right=True, out_int32=True)
