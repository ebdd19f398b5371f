"""Overlap losses for segmentation masks: Dice and Tversky."""

from lamina.backend import config as _config
from lamina.losses.loss import (
    LossFunctionWrapper,
    prediction_tensor,
    target_tensor,
)


def _sum(x, axis):
    if axis is None:
        return x.sum()
    return x.sum(dim=tuple(axis) if isinstance(axis, list) else axis)


def dice(y_true, y_pred, axis=None):
    """`1 - 2|A∩B| / (|A| + |B|)` over `axis` (all axes when `None`).

    Example:
    >>> from lamina import losses
    >>> round(float(losses.dice([[1.0, 0.0]], [[1.0, 0.0]])), 4)
    0.0
    """
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    intersection = _sum(y_true * y_pred, axis)
    union = _sum(y_true, axis) + _sum(y_pred, axis) + _config.epsilon()
    return 1.0 - 2.0 * intersection / union


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """`1 - TP / (TP + alpha FP + beta FN)` over `axis` (all axes when `None`).

    Args:
        alpha: Weight of false positives. Defaults to `0.5`.
        beta: Weight of false negatives. Defaults to `0.5`.
    """
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    tp = _sum(y_true * y_pred, axis)
    fp = _sum((1.0 - y_pred) * y_true, axis)
    fn = _sum(y_pred * (1.0 - y_true), axis)
    return 1.0 - tp / (tp + fp * alpha + fn * beta + _config.epsilon())


class Dice(LossFunctionWrapper):
    """Dice loss. See `dice`.

    Args:
        reduction: See `Loss`. Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"dice"`.
        axis: Axes reduced per sample. Defaults to `None` (all).
        dtype: Defaults to `floatx()`.
    """

    def __init__(
        self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None
    ):
        super().__init__(dice, name=name, reduction=reduction, dtype=dtype, axis=axis)
        self.axis = axis


class Tversky(LossFunctionWrapper):
    """Tversky loss. See `tversky`."""

    def __init__(
        self,
        alpha=0.5,
        beta=0.5,
        reduction="sum_over_batch_size",
        name="tversky",
        axis=None,
        dtype=None,
    ):
        super().__init__(
            tversky,
            name=name,
            reduction=reduction,
            dtype=dtype,
            alpha=alpha,
            beta=beta,
            axis=axis,
        )
        self.alpha = alpha
        self.beta = beta
        self.axis = axis
