"""Generalized cross-entropy (Zhang and Sabuncu, 2018,
https://arxiv.org/abs/1805.07836): a cross-entropy that tolerates noisy labels."""

import torch

from lamina.backend import convert_to_tensor
from lamina.losses.loss import LossFunctionWrapper, prediction_tensor


def _check_q(q) -> None:
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
        raise ValueError(
            "CategoricalGeneralizedCrossEntropy expects `q` to be a number in the "
            f"open interval (0, 1); got q={q!r}. Values near 0 behave like "
            "cross-entropy, values near 1 like mean absolute error."
        )


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """Per-sample `(1 - p**q) / q`, `p` being the probability of the true class.

    Args:
        y_true: Integer class labels, shape `(batch,)` or `(batch, 1)`.
        y_pred: Class probabilities, shape `(batch, num_classes)`.
        q: In `(0, 1)`: near 0 the loss tends to cross-entropy, at 1 it is
            mean absolute error.

    Returns:
        Losses of shape `(batch,)`. A label outside `[0, num_classes)` counts as
        probability 0 (loss `1 / q`), as Keras's one-hot encoding gives.

    Example:
    >>> from lamina import losses
    >>> round(float(losses.categorical_generalized_cross_entropy(
    ...     [1], [[0.75, 0.25]], q=0.5)[0]), 4)
    1.0
    """
    y_pred = prediction_tensor(y_pred)
    if not isinstance(y_true, torch.Tensor):
        y_true = convert_to_tensor(y_true, device=y_pred.device)
    elif y_true.device != y_pred.device:
        y_true = y_true.to(y_pred.device)
    labels = y_true.long()
    if labels.dim() == y_pred.dim() and labels.shape[-1] == 1:
        # Keras broadcasts (batch, 1) labels into a (batch, batch) result; its
        # docstring promises (batch,), which this gives.
        labels = labels.squeeze(-1)
    classes = torch.arange(y_pred.shape[-1], device=y_pred.device)
    one_hot = labels.unsqueeze(-1) == classes
    p = (y_pred * one_hot).sum(dim=-1)
    return (1.0 - p**q) / q


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """Generalized cross-entropy between integer labels and class
    probabilities. See `categorical_generalized_cross_entropy`.

    Args:
        q: A number in `(0, 1)`. Defaults to `0.5`.
        reduction: See `Loss`. Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"categorical_generalized_cross_entropy"`.
        dtype: Defaults to `floatx()`.

    Raises:
        ValueError: `q` outside `(0, 1)`.

    Example:
    >>> import numpy as np
    >>> from lamina import losses
    >>> loss = losses.CategoricalGeneralizedCrossEntropy(q=0.5)
    >>> round(float(loss(np.array([0, 1]), np.array([[1.0, 0.0], [0.75, 0.25]]))), 4)
    0.5
    """

    def __init__(
        self,
        q=0.5,
        reduction="sum_over_batch_size",
        name="categorical_generalized_cross_entropy",
        dtype=None,
    ):
        _check_q(q)
        super().__init__(
            categorical_generalized_cross_entropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            q=q,
        )
        self.q = q
