"""Pearson and concordance correlation along an axis, and their running means
over samples (`PearsonCorrelation`, `ConcordanceCorrelation`), as in Keras 3."""

import torch

from lamina.backend import config as _config
from lamina.losses.loss import (
    prediction_tensor,
    squeeze_or_expand_to_same_rank,
    target_tensor,
)
from lamina.metrics.reduction_metrics import MeanMetricWrapper


def _inputs(y_true, y_pred):
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def pearson_correlation(y_true, y_pred, axis: int = -1) -> torch.Tensor:
    """Pearson correlation coefficient of `y_true` and `y_pred` along `axis`.

    Args:
        y_true: Targets, e.g. of shape `(batch, d)`.
        y_pred: Predictions of the same shape.
        axis: The axis the correlation runs over. Defaults to `-1`.

    Returns:
        The coefficients, with `axis` reduced (`(batch,)` for 2-D inputs); NaN
        where either input is constant along `axis`.

    Example:
    >>> from lamina import metrics
    >>> r = metrics.pearson_correlation([[1.0, 2.0, 3.0]], [[2.0, 4.0, 7.0]])
    >>> tuple(r.shape), round(float(r[0]), 4)
    ((1,), 0.9934)
    """
    y_true, y_pred = _inputs(y_true, y_pred)
    true_centered = y_true - y_true.mean(dim=axis, keepdim=True)
    pred_centered = y_pred - y_pred.mean(dim=axis, keepdim=True)
    # Population standard deviations (ddof 0), as Keras.
    true_std = true_centered.std(dim=axis, keepdim=True, correction=0)
    pred_std = pred_centered.std(dim=axis, keepdim=True, correction=0)
    return ((true_centered / true_std) * (pred_centered / pred_std)).mean(dim=axis)


def concordance_correlation(y_true, y_pred, axis: int = -1) -> torch.Tensor:
    """Lin's concordance correlation coefficient along `axis`:
    `2 cov / (var_true + var_pred + (mean_true - mean_pred)^2)`.

    Args:
        y_true: Targets, e.g. of shape `(batch, d)`.
        y_pred: Predictions of the same shape.
        axis: The axis the coefficient runs over. Defaults to `-1`.

    Returns:
        The coefficients, with `axis` reduced.

    Example:
    >>> from lamina import metrics
    >>> c = metrics.concordance_correlation([[1.0, 2.0, 3.0]], [[1.0, 2.0, 4.0]])
    >>> round(float(c[0]), 4)
    0.8571
    """
    y_true, y_pred = _inputs(y_true, y_pred)
    true_mean = y_true.mean(dim=axis, keepdim=True)
    pred_mean = y_pred.mean(dim=axis, keepdim=True)
    true_var = y_true.var(dim=axis, keepdim=True, correction=0)
    pred_var = y_pred.var(dim=axis, keepdim=True, correction=0)
    covariance = (y_true - true_mean) * (y_pred - pred_mean)
    norm = true_var + pred_var + torch.square(true_mean - pred_mean)
    return (2 * covariance / (norm + _config.epsilon())).mean(dim=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """Running mean over samples of `pearson_correlation(y_true, y_pred, axis)`.

    Args:
        name: Defaults to `"pearson_correlation"`.
        dtype: Defaults to `floatx()`.
        axis: The axis each correlation runs over. Defaults to `-1`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.PearsonCorrelation()
    >>> round(float(m([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]],
    ...               [[2.0, 4.0, 6.0], [3.0, 2.0, 1.0]])), 4)
    0.0
    """

    def __init__(self, name: str = "pearson_correlation", dtype=None, axis: int = -1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


class ConcordanceCorrelation(MeanMetricWrapper):
    """Running mean over samples of `concordance_correlation(y_true, y_pred,
    axis)`.

    Args:
        name: Defaults to `"concordance_correlation"`.
        dtype: Defaults to `floatx()`.
        axis: The axis each coefficient runs over. Defaults to `-1`.
    """

    def __init__(
        self, name: str = "concordance_correlation", dtype=None, axis: int = -1
    ):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}
