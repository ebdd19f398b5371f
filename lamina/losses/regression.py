"""Regression losses: squared, absolute, percentage, logarithmic, Huber, log-cosh
and cosine-similarity errors, as functions and as `Loss` classes.

Each function returns one value per sample (the mean over the last axis) with
Keras 3's numerics (`keras/src/losses/losses.py`).
"""

import math

import torch
import torch.nn.functional as F

from lamina.backend import config as _config
from lamina.losses.loss import (
    LossFunctionWrapper,
    prediction_tensor,
    squeeze_or_expand_to_same_rank,
    target_tensor,
)

_LOG2 = math.log(2.0)


def _pair(y_true, y_pred):
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """Mean of `(y_true - y_pred) ** 2` over the last axis.

    Example:
    >>> from lamina import losses
    >>> losses.mean_squared_error([[0.0, 1.0]], [[1.0, 1.0]]).tolist()
    [0.5]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return torch.square(y_true - y_pred).mean(dim=-1)


def mean_absolute_error(y_true, y_pred):
    """Mean of `|y_true - y_pred|` over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    return torch.abs(y_true - y_pred).mean(dim=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))` over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    diff = torch.abs((y_true - y_pred) / y_true.abs().clamp_min(_config.epsilon()))
    return 100.0 * diff.mean(dim=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """Mean of `(log(y_pred + 1) - log(y_true + 1)) ** 2`, inputs floored at epsilon."""
    y_true, y_pred = _pair(y_true, y_pred)
    eps = _config.epsilon()
    # Keras writes log(x + 1), not log1p; kept for bit-level agreement.
    first = torch.log(y_pred.clamp_min(eps) + 1.0)
    second = torch.log(y_true.clamp_min(eps) + 1.0)
    return torch.square(first - second).mean(dim=-1)


def huber(y_true, y_pred, delta=1.0):
    """Quadratic for errors up to `delta`, linear beyond; mean over the last axis.

    Args:
        delta: Where the quadratic part ends. Defaults to `1.0`.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    error = y_pred - y_true
    abs_error = error.abs()
    quadratic = 0.5 * torch.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return torch.where(abs_error <= delta, quadratic, linear).mean(dim=-1)


def log_cosh(y_true, y_pred):
    """Mean of `log(cosh(y_pred - y_true))`, computed without overflow."""
    y_true, y_pred = _pair(y_true, y_pred)
    x = y_pred - y_true
    # log(cosh(x)) = x + softplus(-2x) - log(2), stable for large |x|.
    return (x + F.softplus(-2.0 * x) - _LOG2).mean(dim=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Negative cosine similarity along `axis`: -1 for parallel vectors, 0 for
    orthogonal ones, so minimising it aligns predictions with targets.

    Args:
        axis: The axis holding the vectors. Defaults to `-1`.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return -torch.sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), dim=axis)


def l2_normalize(x, axis):
    # Keras: x * min(rsqrt(sum(x^2)), 1/epsilon), so a zero vector stays zero.
    inv_norm = torch.rsqrt(torch.square(x).sum(dim=axis, keepdim=True))
    cap = 1.0 / _config.epsilon()
    # In float16 the cap rounds to inf in Keras (no clamp); torch would refuse it.
    if cap <= torch.finfo(inv_norm.dtype).max:
        inv_norm = inv_norm.clamp_max(cap)
    return x * inv_norm


class MeanSquaredError(LossFunctionWrapper):
    """Mean of the squared errors. See `mean_squared_error`.

    Args:
        reduction: See `Loss`. Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"mean_squared_error"`.
        dtype: Defaults to `floatx()`.
    """

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None
    ):
        super().__init__(
            mean_squared_error, name=name, reduction=reduction, dtype=dtype
        )


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of the absolute errors. See `mean_absolute_error`."""

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None
    ):
        super().__init__(
            mean_absolute_error, name=name, reduction=reduction, dtype=dtype
        )


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Mean absolute percentage error. See `mean_absolute_percentage_error`."""

    def __init__(
        self,
        reduction="sum_over_batch_size",
        name="mean_absolute_percentage_error",
        dtype=None,
    ):
        super().__init__(
            mean_absolute_percentage_error, name=name, reduction=reduction, dtype=dtype
        )


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean squared logarithmic error. See `mean_squared_logarithmic_error`."""

    def __init__(
        self,
        reduction="sum_over_batch_size",
        name="mean_squared_logarithmic_error",
        dtype=None,
    ):
        super().__init__(
            mean_squared_logarithmic_error, name=name, reduction=reduction, dtype=dtype
        )


class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity. See `cosine_similarity`.

    Args:
        axis: The axis holding the vectors. Defaults to `-1`.
    """

    def __init__(
        self,
        axis=-1,
        reduction="sum_over_batch_size",
        name="cosine_similarity",
        dtype=None,
    ):
        super().__init__(
            cosine_similarity, name=name, reduction=reduction, dtype=dtype, axis=axis
        )
        self.axis = axis


class Huber(LossFunctionWrapper):
    """Huber loss. See `huber`.

    Args:
        delta: Where the quadratic part ends. Defaults to `1.0`.
    """

    def __init__(
        self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None
    ):
        super().__init__(
            huber, name=name, reduction=reduction, dtype=dtype, delta=delta
        )
        self.delta = delta


class LogCosh(LossFunctionWrapper):
    """Logarithm of the hyperbolic cosine of the error. See `log_cosh`."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, name=name, reduction=reduction, dtype=dtype)
