"""Probabilistic losses: cross-entropies (binary, categorical, sparse),
KL divergence and Poisson, as functions and as `Loss` classes.

Probabilities are handled as Keras's torch backend does: clipped to
`[epsilon, 1 - epsilon]`, and categorical outputs renormalised to sum to 1. When
`y_pred` comes from lamina's `softmax` or `sigmoid` it carries its logits
(`y_pred._keras_logits`), and the loss uses them through a fused, stable
log-softmax / log-sigmoid instead, as Keras's TensorFlow backend does.
"""

import torch
import torch.nn.functional as F

from lamina.backend import config as _config
from lamina.losses.loss import (
    LossFunctionWrapper,
    attached_logits,
    prediction_tensor,
    squeeze_or_expand_to_same_rank,
    target_tensor,
)

# Device types whose autocast refuses torch's fused binary_cross_entropy (CPU
# autocast accepts it).
_ACCELERATORS = ("cuda", "xpu", "mps", "hpu")


def _check_axis(axis, fn_name):
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(
            f"{fn_name} expects `axis` to be an int (the class axis, usually -1); "
            f"got axis={axis!r}."
        )


def _binary_ce_from_probs(y_true, y_pred):
    # Keras torch backend: clip, then torch's binary_cross_entropy. Inside
    # torch.autocast that fused op refuses to run, so it is written out there.
    eps = _config.epsilon()
    p = y_pred.clamp(eps, 1.0 - eps)
    kind = p.device.type
    if kind in _ACCELERATORS and torch.is_autocast_enabled(kind):
        return -(y_true * torch.log(p) + (1.0 - y_true) * torch.log(1.0 - p))
    return F.binary_cross_entropy(p, y_true, reduction="none")


def _binary_inputs(y_true, y_pred, from_logits, label_smoothing, fn_name):
    """Tensors of equal shape, smoothed targets, and any attached logits."""
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        # Keras raises for (batch,) labels against (batch, 1) outputs here; the
        # loss classes align them anyway, so the functions and metrics do too.
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"{fn_name}: y_true and y_pred must have the same shape; got "
                f"y_true.shape={tuple(y_true.shape)}, y_pred.shape="
                f"{tuple(y_pred.shape)}. Reshape the labels to match the outputs."
            )
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    logits = None if from_logits else attached_logits(y_pred, "sigmoid")
    return y_true, y_pred, logits


def binary_crossentropy(
    y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1
):
    """Binary cross-entropy, averaged over `axis`.

    Args:
        y_true: Targets in [0, 1], the shape of `y_pred`.
        y_pred: Probabilities, or logits when `from_logits=True`.
        from_logits: Whether `y_pred` holds logits. Defaults to `False`.
        label_smoothing: Squeeze targets towards 0.5 by this fraction.
            Defaults to `0.0`.
        axis: Axis averaged over. Defaults to `-1`.

    Example:
    >>> from lamina import losses
    >>> round(float(losses.binary_crossentropy([[1.0]], [[0.5]])[0]), 4)
    0.6931
    """
    y_true, y_pred, logits = _binary_inputs(
        y_true, y_pred, from_logits, label_smoothing, "binary_crossentropy"
    )
    if from_logits:
        bce = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    elif logits is not None:
        bce = F.binary_cross_entropy_with_logits(
            logits.to(y_pred.dtype), y_true, reduction="none"
        )
    else:
        bce = _binary_ce_from_probs(y_true, y_pred)
    return bce.mean(dim=axis)


def _smooth_one_hot(y_true, label_smoothing):
    num_classes = y_true.shape[-1]
    return y_true * (1.0 - label_smoothing) + label_smoothing / num_classes


def _log_probs(y_pred, axis):
    # Keras torch backend: renormalise along `axis`, clip, then log.
    eps = _config.epsilon()
    output = y_pred / y_pred.sum(dim=axis, keepdim=True)
    return torch.log(output.clamp(eps, 1.0 - eps))


def categorical_crossentropy(
    y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1
):
    """Cross-entropy between one-hot (or soft) targets and class probabilities.

    Args:
        y_true: One-hot targets, the shape of `y_pred`. For integer labels use
            `sparse_categorical_crossentropy`.
        y_pred: Class probabilities along `axis`, or logits with `from_logits`.
        from_logits: Whether `y_pred` holds logits. Defaults to `False`.
        label_smoothing: Mix this fraction of the uniform distribution into the
            targets. Defaults to `0.0`.
        axis: The class axis. Defaults to `-1`.

    Example:
    >>> from lamina import losses
    >>> round(float(losses.categorical_crossentropy([[0.0, 1.0]], [[0.5, 0.5]])[0]), 4)
    0.6931
    """
    _check_axis(axis, "categorical_crossentropy")
    logits = None if from_logits else attached_logits(y_pred, "softmax")
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    if label_smoothing:
        y_true = _smooth_one_hot(y_true, label_smoothing)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "categorical_crossentropy expects one-hot labels: y_true and y_pred "
            f"must have the same shape {tuple(y_pred.shape)}; got "
            f"y_true.shape={tuple(y_true.shape)}. For "
            "integer class labels use sparse_categorical_crossentropy, or convert "
            "them with lamina.utils.to_categorical."
        )
    if from_logits or logits is not None:
        x = y_pred if from_logits else logits.to(y_pred.dtype)
        if x.dim() == 2 and axis in (-1, 1):
            # One fused kernel (log-softmax + weighted sum) for the common case.
            return F.cross_entropy(x, y_true, reduction="none")
        return -torch.sum(y_true * F.log_softmax(x, dim=axis), dim=axis)
    return -torch.sum(y_true * _log_probs(y_pred, axis), dim=axis)


def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits=False, ignore_class=None, axis=-1
):
    """Cross-entropy between integer class labels and class probabilities.

    Args:
        y_true: Integer labels of shape `y_pred.shape` without the class axis
            (a trailing axis of size 1 is accepted too).
        y_pred: Class probabilities along `axis`, or logits with `from_logits`.
        from_logits: Whether `y_pred` holds logits. Defaults to `False`.
        ignore_class: A label value whose entries get loss 0 and are left out of
            averages (e.g. padding). Defaults to `None`.
        axis: The class axis. Defaults to `-1`.

    Example:
    >>> from lamina import losses
    >>> round(float(losses.sparse_categorical_crossentropy([1], [[0.5, 0.5]])[0]), 4)
    0.6931
    """
    logits = None if from_logits else attached_logits(y_pred, "softmax")
    y_pred = prediction_tensor(y_pred)
    if isinstance(y_true, torch.Tensor):
        if y_true.device != y_pred.device:
            y_true = y_true.to(y_pred.device)
    else:
        y_true = target_tensor(y_true, y_pred)
    rank = y_pred.dim()
    if y_true.dim() == rank and y_true.shape[axis] == 1:
        y_true = y_true.squeeze(axis)
    target = y_true if y_true.dtype == torch.int64 else y_true.long()
    if from_logits or logits is not None:
        x = y_pred if from_logits else logits.to(y_pred.dtype)
        log_softmax_fused = True
    else:
        x = y_pred
        log_softmax_fused = False
    squeeze = rank == 1
    if squeeze:
        x, target = x.unsqueeze(0), target.unsqueeze(0)
    elif axis % rank != 1:
        x = x.movedim(axis % rank, 1)
    ignore_index = -100 if ignore_class is None else int(ignore_class)
    try:
        if log_softmax_fused:
            result = F.cross_entropy(
                x, target, reduction="none", ignore_index=ignore_index
            )
        else:
            log_probs = _log_probs(x, 1)
            if rank > 2 and log_probs.device.type == "cpu":
                # torch's CPU nll_loss2d backward rejects a channels-last input
                # ("grad_input must be contiguous"), which x is after movedim.
                log_probs = log_probs.contiguous()
            result = F.nll_loss(
                log_probs, target, reduction="none", ignore_index=ignore_index
            )
    except IndexError as error:  # the error path only: the try is free
        _explain_bad_class_ids(error, target, x.shape[1], ignore_index)
        raise
    if squeeze:
        result = result.squeeze(0)
    if ignore_class is not None:
        # Keras marks ignored entries with a mask, so averages skip them.
        result._keras_mask = (target != ignore_index).reshape(result.shape)
    return result


def _explain_bad_class_ids(error, target, num_classes, ignore_index):
    """Re-raise torch's "Target 5 is out of bounds" naming the loss, the valid
    label range and the labels given."""
    used = target[target != ignore_index]
    if used.numel() == 0:
        return
    low, high = int(used.min()), int(used.max())
    if 0 <= low and high < num_classes:
        return
    raise IndexError(
        f"{str(error).rstrip('.')}: sparse_categorical_crossentropy expects "
        "integer class labels "
        f"in [0, {num_classes - 1}], as y_pred has {num_classes} classes; got "
        f"labels from {low} to {high}. Give the last layer as many units as "
        "there are classes, or remap the labels to 0 ... num_classes - 1."
    ) from None


def kl_divergence(y_true, y_pred):
    """Kullback-Leibler divergence `sum(y_true * log(y_true / y_pred))` over the
    last axis, both clipped to `[epsilon, 1]`."""
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    eps = _config.epsilon()
    y_true = y_true.clamp(eps, 1.0)
    y_pred = y_pred.clamp(eps, 1.0)
    return torch.sum(y_true * torch.log(y_true / y_pred), dim=-1)


def poisson(y_true, y_pred):
    """Poisson loss `mean(y_pred - y_true * log(y_pred + epsilon))` over the last
    axis."""
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    return torch.mean(y_pred - y_true * torch.log(y_pred + _config.epsilon()), dim=-1)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy for 0/1 labels. See `binary_crossentropy`.

    Args:
        from_logits: Whether `y_pred` holds logits. Defaults to `False`.
        label_smoothing: Defaults to `0.0`.
        axis: Defaults to `-1`.
        reduction: See `Loss`. Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"binary_crossentropy"`.
        dtype: Defaults to `floatx()`.
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(
            binary_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for one-hot labels. See `categorical_crossentropy`.

    Args:
        from_logits: Whether `y_pred` holds logits. Defaults to `False`.
        label_smoothing: Defaults to `0.0`.
        axis: The class axis. Defaults to `-1`.
        reduction: See `Loss`. Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"categorical_crossentropy"`.
        dtype: Defaults to `floatx()`.
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            categorical_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer labels. See `sparse_categorical_crossentropy`.

    Args:
        from_logits: Whether `y_pred` holds logits. Defaults to `False`.
        ignore_class: Label value to leave out (e.g. padding). Defaults to `None`.
        reduction: See `Loss`. Defaults to `"sum_over_batch_size"`.
        axis: The class axis. Defaults to `-1`.
        name: Defaults to `"sparse_categorical_crossentropy"`.
        dtype: Defaults to `floatx()`.
    """

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            sparse_categorical_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence. See `kl_divergence`."""

    def __init__(
        self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None
    ):
        super().__init__(kl_divergence, name=name, reduction=reduction, dtype=dtype)


class Poisson(LossFunctionWrapper):
    """Poisson loss. See `poisson`."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, name=name, reduction=reduction, dtype=dtype)
