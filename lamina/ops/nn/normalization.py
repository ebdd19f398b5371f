"""Normalisation ops of `keras.ops.nn`: `batch_normalization`,
`layer_normalization`, `rms_normalization`.

Layer and RMS normalisation compute in at least float32 and cast the result back
to the input's dtype, as Keras does for half-precision training.
"""

import warnings

import torch
import torch.nn.functional as F

from lamina.backend import epsilon as _epsilon
from lamina.ops._utils import Tensor, check_axis, to_float, to_tensor
from lamina.ops.operation import op


def _compute_dtype(x: Tensor) -> torch.dtype:
    if x.dtype in (torch.float16, torch.bfloat16) or not x.is_floating_point():
        return torch.float32
    return x.dtype


def _sorted_axes(name: str, axis, ndim: int) -> list:
    axis = check_axis(name, axis, ndim, allow_none=False)
    axes = (axis,) if isinstance(axis, int) else axis
    return sorted(a % ndim for a in axes)


def _broadcast_to_axes(v, x: Tensor, axes: list):
    """`v` (given over `axes` only, or broadcastable to `x`) shaped to broadcast."""
    if v is None:
        return None
    v = to_tensor(v, device=x.device).to(x.dtype)
    if v.ndim != x.ndim and axes != [x.ndim - 1]:
        shape = [1] * x.ndim
        for a in axes:
            shape[a] = x.shape[a]
        v = v.reshape(shape)
    return v


@op
def batch_normalization(
    x, mean, variance, axis: int, offset=None, scale=None, epsilon: float = 1e-3
) -> Tensor:
    """`(x - mean) / sqrt(variance + epsilon) * scale + offset`, where the 1-D
    `mean`, `variance`, `offset` and `scale` run along `axis` of `x`.

    Example:
    >>> lamina.ops.batch_normalization([[1.0, 2.0]], [1.0, 0.0], [1.0, 4.0],
    ...                                axis=1, epsilon=0.0).tolist()
    [[0.0, 1.0]]
    """
    x = to_float(to_tensor(x))
    check_axis("batch_normalization", axis, x.ndim, allow_none=False)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def per_channel(v, name):
        v = to_tensor(v, device=x.device).to(x.dtype)
        if v.ndim != 1 or v.shape[0] != x.shape[axis]:
            raise ValueError(
                f"ops.batch_normalization expects `{name}` of shape "
                f"({x.shape[axis]},), the size of axis {axis} of `x` (`{name}` "
                f"must be a vector of length {x.shape[axis]}); got shape "
                f"{tuple(v.shape)} for x of shape {tuple(x.shape)}."
            )
        return v.reshape(shape)

    inv = torch.rsqrt(per_channel(variance, "variance") + epsilon)
    if scale is not None:
        inv = inv * per_channel(scale, "scale")
    out = (x - per_channel(mean, "mean")) * inv
    if offset is not None:
        out = out + per_channel(offset, "offset")
    return out


def _is_contiguous_tail(axes: list, ndim: int) -> bool:
    return axes == list(range(ndim - len(axes), ndim))


@op
def layer_normalization(
    x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs
) -> Tensor:
    """`(x - mean) / sqrt(var + epsilon) * gamma + beta`, with the statistics
    taken over `axis` (an int or a tuple of ints) of each example.

    `gamma` and `beta` have the shape of the normalised axes. `epsilon`
    defaults to `lamina.backend.epsilon()`. The deprecated `rms_scaling=True`
    of Keras (scale by the variance, without centring) is accepted with
    Keras's warning; use `rms_normalization` instead.
    """
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(
            "ops.layer_normalization got unexpected keyword arguments "
            f"{sorted(kwargs)}; it accepts gamma, beta, axis, epsilon."
        )
    x = to_tensor(x)
    original_dtype = x.dtype if x.is_floating_point() else to_float(x).dtype
    x = x.to(_compute_dtype(x))
    eps = _epsilon() if epsilon is None else epsilon
    axes = _sorted_axes("layer_normalization", axis, x.ndim)
    gamma = _broadcast_to_axes(gamma, x, axes)
    beta = _broadcast_to_axes(beta, x, axes)
    if rms_scaling:
        warnings.warn(
            "You passed `rms_scaling=True`, which is deprecated: "
            "ops.layer_normalization(rms_scaling=True) scales by the variance, "
            "not the root mean square, as in Keras. Use ops.rms_normalization "
            "instead.",
            stacklevel=2,
        )
        out = x * torch.rsqrt(torch.var(x, dim=axes, correction=0, keepdim=True) + eps)
        if gamma is not None:
            out = out * gamma
    elif (
        _is_contiguous_tail(axes, x.ndim)
        and (gamma is None or gamma.shape == x.shape[axes[0] :])
        and (beta is None or beta.shape == x.shape[axes[0] :])
    ):
        out = F.layer_norm(x, tuple(x.shape[axes[0] :]), gamma, beta, eps)
    else:
        variance, mean = torch.var_mean(x, dim=axes, correction=0, keepdim=True)
        out = (x - mean) * torch.rsqrt(variance + eps)
        if gamma is not None:
            out = out * gamma
        if beta is not None:
            out = out + beta
    return out.to(original_dtype)


@op
def rms_normalization(x, scale=None, axis=-1, epsilon=None) -> Tensor:
    """`x / sqrt(mean(x^2) + epsilon) * scale`, with the mean taken over `axis`
    (an int or a tuple of ints). `epsilon` defaults to
    `lamina.backend.epsilon()`."""
    x = to_tensor(x)
    original_dtype = x.dtype if x.is_floating_point() else to_float(x).dtype
    x = x.to(_compute_dtype(x))
    if x.ndim == 0:
        x = x.unsqueeze(0)
    eps = _epsilon() if epsilon is None else epsilon
    axes = _sorted_axes("rms_normalization", axis, x.ndim)
    scale = _broadcast_to_axes(scale, x, axes)
    out = x * torch.rsqrt(torch.mean(x * x, dim=axes, keepdim=True) + eps)
    if scale is not None:
        out = out * scale
    return out.to(original_dtype)


__all__ = ["batch_normalization", "layer_normalization", "rms_normalization"]
