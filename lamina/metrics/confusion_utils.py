"""Accumulating confusion-matrix counts (true/false positives/negatives) per
threshold, on the device, as Keras 3's `metrics_utils` defines them.

A prediction counts as positive at threshold `t` when `y_pred > t`. Evenly
spaced thresholds (AUC's default) take a bucketed path: one scatter-add over
`num_thresholds` buckets and a reversed cumulative sum, instead of comparing
every prediction with every threshold.
"""

import numpy as np
import torch

from lamina.backend import config as _config
from lamina.backend import convert_to_tensor
from lamina.losses.loss import squeeze_or_expand_to_same_rank

NEG_INF = -1e10

TP, FP, TN, FN = "tp", "fp", "tn", "fn"


def parse_init_thresholds(thresholds, default_threshold=0.5) -> list:
    """`thresholds` as a list of floats in [0, 1] (or `[default_threshold]`)."""
    if thresholds is None:
        return [default_threshold]
    values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    bad = [t for t in values if t is None or t < 0 or t > 1]
    if bad:
        raise ValueError(
            f"Threshold values must be in [0, 1]. Received: {bad} (in "
            f"thresholds={thresholds!r})."
        )
    return values


def is_evenly_distributed_thresholds(thresholds) -> bool:
    """True for `[0, 1/(n-1), ..., 1]` (within epsilon) with n >= 3."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=_config.epsilon()))


def filter_top_k(x, k):
    """Keep the `k` largest entries of the last axis; the rest become NEG_INF."""
    top_idx = torch.topk(x, k, dim=-1).indices
    mask = torch.zeros_like(x).scatter_(-1, top_idx, 1.0)
    return x * mask + NEG_INF * (1.0 - mask)


def _tensor(x, dtype, device):
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=dtype)
    return convert_to_tensor(x, dtype=dtype, device=device)


def update_confusion_matrix_variables(
    variables,
    y_true,
    y_pred,
    thresholds,
    evenly_distributed=False,
    thresholds_with_epsilon=False,
    top_k=None,
    class_id=None,
    sample_weight=None,
    multi_label=False,
    label_weights=None,
):
    """Add this batch's counts to `variables` (`{"tp": tensor, ...}`), in place.

    Args:
        variables: Keys among "tp", "fp", "tn", "fn"; values of shape
            `(num_thresholds,)`, or `(num_thresholds, num_labels)` when
            `multi_label`.
        y_true: Labels; any nonzero value counts as positive.
        y_pred: Scores, usually in [0, 1].
        thresholds: A 1-D tensor of thresholds on the variables' device.
        evenly_distributed: The thresholds are `i / (n - 1)` (maybe with the
            end points nudged by epsilon), so the bucketed path applies.
        thresholds_with_epsilon: The end points were nudged outside [0, 1]
            (AUC does this), so a score of exactly 0 is above the first one.
        top_k: Only the `k` best scores per sample may count as positive.
        class_id: Only this column of `y_true`/`y_pred` is used.
        sample_weight: Per-sample (or per-entry) weights.
        multi_label: Count each label column separately.
        label_weights: Per-label weights (not with `multi_label`).
    """
    first = next(iter(variables.values()))
    dtype, device = first.dtype, first.device
    y_true = _tensor(y_true, dtype, device)
    y_pred = _tensor(y_pred, dtype, device)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = _tensor(sample_weight, dtype, device).unsqueeze(-1)
        _, sample_weight = squeeze_or_expand_to_same_rank(
            y_true, sample_weight, expand_rank_1=False
        )
    if top_k is not None:
        y_pred = filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.dim() == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape "
                "(num_samples, num_classes), found shape: "
                f"{tuple(y_pred.shape)}."
            )
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]
    if evenly_distributed:
        _bucketed_update(
            variables,
            y_true,
            y_pred,
            thresholds.shape[0],
            multi_label,
            sample_weight,
            label_weights,
            thresholds_with_epsilon,
        )
    else:
        _thresholded_update(
            variables,
            y_true,
            y_pred,
            thresholds,
            multi_label,
            sample_weight,
            label_weights,
        )


def _weights(y_pred, sample_weight, label_weights, multi_label):
    weights = None
    if sample_weight is not None:
        weights = sample_weight.broadcast_to(y_pred.shape)
    if label_weights is not None:
        lw = label_weights.unsqueeze(0).broadcast_to(y_pred.shape)
        weights = lw if weights is None else weights * lw
    if weights is not None and not multi_label:
        weights = weights.reshape(-1)
    return weights


def _reverse_cumsum(x, dim):
    return x.flip(dim).cumsum(dim).flip(dim)


def _bucketed_update(
    variables,
    y_true,
    y_pred,
    num_thresholds,
    multi_label,
    sample_weight,
    label_weights,
    thresholds_with_epsilon,
):
    weights = _weights(y_pred, sample_weight, label_weights, multi_label)
    y_pred = y_pred.clamp(0.0, 1.0)
    y_true = (y_true != 0).to(y_pred.dtype)
    if not multi_label:
        y_true = y_true.reshape(-1)
        y_pred = y_pred.reshape(-1)
    true_labels = y_true if weights is None else y_true * weights
    false_labels = (1.0 - y_true) if weights is None else (1.0 - y_true) * weights
    # A score p is above threshold i/(n-1) for i <= ceil(p (n-1)) - 1.
    bucket = torch.ceil(y_pred * (num_thresholds - 1)) - 1
    if thresholds_with_epsilon:
        bucket = torch.relu(bucket)
    # Slot 0 collects bucket -1 (above no threshold) and is dropped.
    slot = (bucket.long() + 1).clamp(0, num_thresholds)
    if multi_label:
        num_labels = y_pred.shape[-1]
        offsets = torch.arange(num_labels, device=slot.device) * (num_thresholds + 1)
        flat = (slot + offsets).reshape(-1)

        def histogram(labels):
            hist = torch.zeros(
                num_labels * (num_thresholds + 1),
                dtype=labels.dtype,
                device=labels.device,
            )
            hist.index_add_(0, flat, labels.reshape(-1))
            hist = hist.view(num_labels, num_thresholds + 1)[:, 1:]
            return _reverse_cumsum(hist, 1).transpose(0, 1)

        total_axis = 0
    else:

        def histogram(labels):
            hist = torch.zeros(
                num_thresholds + 1, dtype=labels.dtype, device=labels.device
            )
            hist.index_add_(0, slot, labels)
            return _reverse_cumsum(hist[1:], 0)

        total_axis = None
    tp = histogram(true_labels) if (TP in variables or FN in variables) else None
    fp = histogram(false_labels) if (FP in variables or TN in variables) else None
    if TP in variables:
        variables[TP].add_(tp)
    if FP in variables:
        variables[FP].add_(fp)
    if TN in variables:
        total_false = (
            false_labels.sum()
            if total_axis is None
            else false_labels.sum(dim=total_axis)
        )
        variables[TN].add_(total_false - fp)
    if FN in variables:
        total_true = (
            true_labels.sum() if total_axis is None else true_labels.sum(dim=total_axis)
        )
        variables[FN].add_(total_true - tp)


def _thresholded_update(
    variables, y_true, y_pred, thresholds, multi_label, sample_weight, label_weights
):
    weights = None
    if sample_weight is not None:
        weights = sample_weight.broadcast_to(y_pred.shape)
    if label_weights is not None and not multi_label:
        lw = label_weights.unsqueeze(0).broadcast_to(y_pred.shape)
        weights = lw if weights is None else weights * lw
    labels = y_true != 0
    if multi_label:
        # (thresholds, batch, labels)
        preds = y_pred.unsqueeze(0)
        labels = labels.unsqueeze(0)
        thresh = thresholds.view(-1, *([1] * y_pred.dim()))
        if weights is not None:
            weights = weights.unsqueeze(0)
    else:
        # (thresholds, all entries)
        preds = y_pred.reshape(1, -1)
        labels = labels.reshape(1, -1)
        thresh = thresholds.view(-1, 1)
        if weights is not None:
            weights = weights.reshape(1, -1)
    pred_pos = preds > thresh
    dtype = next(iter(variables.values())).dtype

    def count(label, pred):
        hits = (label & pred).to(dtype)
        if weights is not None:
            hits = hits * weights
        return hits.sum(dim=1)

    if TP in variables:
        variables[TP].add_(count(labels, pred_pos))
    if FP in variables:
        variables[FP].add_(count(~labels, pred_pos))
    if FN in variables:
        variables[FN].add_(count(labels, ~pred_pos))
    if TN in variables:
        variables[TN].add_(count(~labels, ~pred_pos))
