"""Hinge losses for maximum-margin classifiers: hinge, squared hinge and
categorical hinge, as functions and as `Loss` classes."""

import torch

from lamina.losses.loss import (
    LossFunctionWrapper,
    prediction_tensor,
    target_tensor,
)


def _to_signed_labels(y_true):
    # Keras: labels that are all 0/1 become -1/+1; anything else is left as is.
    # Decided on the device with `where`, so no host sync.
    is_binary = ((y_true == 0) | (y_true == 1)).all()
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    """Mean of `max(1 - y_true * y_pred, 0)` over the last axis.

    Args:
        y_true: Labels in {-1, 1}; labels in {0, 1} are converted.
        y_pred: Raw scores.

    Example:
    >>> from lamina import losses
    >>> losses.hinge([[1.0, 0.0]], [[0.5, -2.0]]).tolist()
    [0.25]
    """
    y_pred = prediction_tensor(y_pred)
    y_true = _to_signed_labels(target_tensor(y_true, y_pred))
    return torch.clamp_min(1.0 - y_true * y_pred, 0.0).mean(dim=-1)


def squared_hinge(y_true, y_pred):
    """Mean of `max(1 - y_true * y_pred, 0) ** 2` over the last axis."""
    y_pred = prediction_tensor(y_pred)
    y_true = _to_signed_labels(target_tensor(y_true, y_pred))
    return torch.square(torch.clamp_min(1.0 - y_true * y_pred, 0.0)).mean(dim=-1)


def categorical_hinge(y_true, y_pred):
    """`max(neg - pos + 1, 0)`: `pos` is the score of the true class, `neg` the
    best score of the others (one-hot `y_true`)."""
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    pos = torch.sum(y_true * y_pred, dim=-1)
    neg = torch.amax((1.0 - y_true) * y_pred, dim=-1)
    return torch.clamp_min(neg - pos + 1.0, 0.0)


class Hinge(LossFunctionWrapper):
    """Hinge loss. See `hinge`."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss. See `squared_hinge`."""

    def __init__(
        self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None
    ):
        super().__init__(squared_hinge, name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge loss. See `categorical_hinge`."""

    def __init__(
        self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None
    ):
        super().__init__(categorical_hinge, name=name, reduction=reduction, dtype=dtype)
