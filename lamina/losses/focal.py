"""Focal cross-entropies (Lin et al., 2017): cross-entropy scaled down on
well-classified examples, binary and categorical, as functions and classes."""

import torch
import torch.nn.functional as F

from lamina.backend import config as _config
from lamina.losses.loss import (
    LossFunctionWrapper,
    prediction_tensor,
    target_tensor,
)
from lamina.losses.probabilistic import (
    _binary_ce_from_probs,
    _binary_inputs,
    _check_axis,
    _smooth_one_hot,
)


def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    """Binary cross-entropy down-weighted on easy examples by `(1 - p_t) ** gamma`.

    Args:
        apply_class_balancing: Also weight positives by `alpha` and negatives by
            `1 - alpha`. Defaults to `False`.
        alpha: Class-balancing weight. Defaults to `0.25`.
        gamma: Focusing exponent. Defaults to `2.0`.
        from_logits, label_smoothing, axis: As in `binary_crossentropy`.
    """
    y_true, y_pred, logits = _binary_inputs(
        y_true, y_pred, from_logits, label_smoothing, "binary_focal_crossentropy"
    )
    if from_logits:
        # Keras: sigmoid first, then the clipped probability formula.
        y_pred = torch.sigmoid(y_pred)
    if logits is not None:
        bce = F.binary_cross_entropy_with_logits(
            logits.to(y_pred.dtype), y_true, reduction="none"
        )
    else:
        bce = _binary_ce_from_probs(y_true, y_pred)
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal_bce = torch.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal_bce = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal_bce
    return focal_bce.mean(dim=axis)


def categorical_focal_crossentropy(
    y_true,
    y_pred,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    """Categorical cross-entropy scaled by `alpha * (1 - p) ** gamma` per class.

    Args:
        alpha: Weight of every class term. Defaults to `0.25`.
        gamma: Focusing exponent. Defaults to `2.0`.
        from_logits, label_smoothing, axis: As in `categorical_crossentropy`.
    """
    _check_axis(axis, "categorical_focal_crossentropy")
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    if label_smoothing:
        y_true = _smooth_one_hot(y_true, label_smoothing)
    if from_logits:
        y_pred = torch.softmax(y_pred, dim=axis)
    eps = _config.epsilon()
    output = (y_pred / y_pred.sum(dim=axis, keepdim=True)).clamp(eps, 1.0 - eps)
    cce = -y_true * torch.log(output)
    focal = alpha * torch.pow(1.0 - output, gamma) * cce
    return focal.sum(dim=axis)


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Focal binary cross-entropy. See `binary_focal_crossentropy`."""

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(
            binary_focal_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
        )
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Focal categorical cross-entropy. See `categorical_focal_crossentropy`."""

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(
            categorical_focal_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
            alpha=alpha,
            gamma=gamma,
        )
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
