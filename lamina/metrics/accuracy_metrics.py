"""Accuracy metrics: exact, binary, categorical, sparse categorical and top-k,
as per-sample functions and as running-mean `Metric` classes (Keras 3
`keras/src/metrics/accuracy_metrics.py` semantics, including labels of shape
`(batch, 1)` against `(batch,)`)."""

import torch

from lamina.backend import config as _config
from lamina.backend import convert_to_tensor
from lamina.backend import dtypes as _dtypes
from lamina.losses.loss import (
    prediction_tensor,
    squeeze_or_expand_to_same_rank,
    target_tensor,
)
from lamina.metrics.reduction_metrics import MeanMetricWrapper


def _floatx():
    return _dtypes.to_torch_dtype(_config.floatx())


def _tensor_on(x, device):
    if isinstance(x, torch.Tensor):
        return x if x.device == device else x.to(device)
    return convert_to_tensor(x, device=device)


def _class_ids(one_hot, device):
    # argmax over the last axis; bool one-hot targets (as in Keras examples)
    # go through uint8, since torch.argmax refuses bool.
    one_hot = _tensor_on(one_hot, device)
    if one_hot.dtype == torch.bool:
        one_hot = one_hot.to(torch.uint8)
    return one_hot.argmax(dim=-1)


def accuracy(y_true, y_pred):
    """1.0 where `y_true == y_pred` exactly, else 0.0."""
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return (y_true == y_pred).to(_floatx())


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where `y_pred > threshold` agrees with the 0/1 label, else 0.0.

    Example:
    >>> from lamina import metrics
    >>> metrics.binary_accuracy([[1], [0]], [[0.6], [0.7]]).tolist()
    [[1.0], [0.0]]
    """
    y_pred = prediction_tensor(y_pred)
    y_true = _tensor_on(y_true, y_pred.device)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    predicted = (y_pred > threshold).to(y_true.dtype)
    return (y_true == predicted).to(_floatx())


def categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of the one-hot `y_true` is the arg-max of `y_pred`.

    Example:
    >>> from lamina import metrics
    >>> metrics.categorical_accuracy([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]]).tolist()
    [1.0, 0.0]
    """
    y_pred = prediction_tensor(y_pred)
    y_true = _class_ids(y_true, y_pred.device)
    original_shape = y_true.shape
    reshape = y_true.dim() == y_pred.dim()
    if reshape:
        y_true = y_true.squeeze(-1)
    matches = (y_true == y_pred.argmax(dim=-1)).to(_floatx())
    return matches.reshape(original_shape) if reshape else matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals the arg-max of `y_pred`.

    Labels may have shape `(batch,)` or `(batch, 1)`; the result has shape
    `(batch,)` either way.

    Example:
    >>> from lamina import metrics
    >>> metrics.sparse_categorical_accuracy([[1], [0]], [[0.2, 0.8], [0.3, 0.7]]).tolist()
    [1.0, 0.0]
    """
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    original_shape = y_true.shape
    reshape = y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1
    if reshape:
        y_true = y_true.squeeze(-1)
    matches = (y_true == y_pred.argmax(dim=-1).to(y_true.dtype)).to(_floatx())
    if reshape:
        matches = matches.reshape(original_shape)
    if matches.dim() > 1 and matches.shape[-1] == 1:
        matches = matches.squeeze(-1)
    return matches


def _in_top_k(targets, predictions, k):
    # The target is in the top k when its score reaches the k-th largest score
    # (ties count as hits), as Keras's torch `in_top_k` decides.
    k = min(k, predictions.shape[-1])
    kth = torch.topk(predictions, k, dim=-1).values[:, -1]
    target_scores = torch.take_along_dim(predictions, targets[:, None], dim=-1)
    return target_scores[:, 0] >= kth


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the class of the one-hot `y_true` is among the `k` best scores.

    Args:
        k: How many top predictions count as a hit. Defaults to `5`.
    """
    y_pred = prediction_tensor(y_pred)
    y_true = _class_ids(y_true, y_pred.device)
    return _top_k_matches(y_true, y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the `k` best scores of `y_pred`.

    Args:
        k: How many top predictions count as a hit. Defaults to `5`.
        from_sorted_ids: `y_pred` already holds class ids sorted by score (so
            the first `k` columns are the top k). Defaults to `False`.
    """
    y_pred = prediction_tensor(y_pred)
    y_true = _tensor_on(y_true, y_pred.device)
    if from_sorted_ids:
        y_true = y_true.to(y_pred.dtype)
        original_shape = y_true.shape
        if y_pred.dim() > 2:
            y_pred = y_pred.reshape(-1, y_pred.shape[-1])
        flat = y_true.reshape(-1)
        matches = (flat[:, None] == y_pred[:, :k]).any(dim=1).to(_floatx())
        return matches.reshape(original_shape) if y_true.dim() > 1 else matches
    return _top_k_matches(y_true.long(), y_pred, k)


def _top_k_matches(y_true, y_pred, k):
    original_shape = y_true.shape
    if y_pred.dim() > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    flat = y_true.reshape(-1) if y_true.dim() > 1 else y_true
    matches = _in_top_k(flat.long(), y_pred, k).to(_floatx())
    return matches.reshape(original_shape) if y_true.dim() > 1 else matches


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly. See `accuracy`.

    Args:
        name: Defaults to `"accuracy"`.
        dtype: Defaults to `floatx()`.
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(fn=accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class BinaryAccuracy(MeanMetricWrapper):
    """How often thresholded predictions match 0/1 labels. See `binary_accuracy`.

    Args:
        name: Defaults to `"binary_accuracy"`.
        dtype: Defaults to `floatx()`.
        threshold: Predictions above it count as 1. Defaults to `0.5`.
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(
            fn=binary_accuracy, name=name, dtype=dtype, threshold=threshold
        )
        self.threshold = threshold
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max matches one-hot labels. See `categorical_accuracy`."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(fn=categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max matches integer labels. See
    `sparse_categorical_accuracy`."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(fn=sparse_categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label is in the top `k`. See
    `top_k_categorical_accuracy`.

    Args:
        k: Defaults to `5`.
        name: Defaults to `"top_k_categorical_accuracy"`.
        dtype: Defaults to `floatx()`.
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(fn=top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is in the top `k`. See
    `sparse_top_k_categorical_accuracy`.

    Args:
        k: Defaults to `5`.
        name: Defaults to `"sparse_top_k_categorical_accuracy"`.
        dtype: Defaults to `floatx()`.
        from_sorted_ids: Defaults to `False`.
    """

    def __init__(
        self,
        k=5,
        name="sparse_top_k_categorical_accuracy",
        dtype=None,
        from_sorted_ids=False,
    ):
        super().__init__(
            fn=sparse_top_k_categorical_accuracy,
            name=name,
            dtype=dtype,
            k=k,
            from_sorted_ids=from_sorted_ids,
        )
        self.k = k
        self.from_sorted_ids = from_sorted_ids
        self._direction = "up"

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
