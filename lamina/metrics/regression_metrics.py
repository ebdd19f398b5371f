"""Regression metrics: running means of squared, absolute, percentage and
logarithmic errors, their root, cosine similarity and log-cosh."""

import torch

from lamina.losses.loss import (
    prediction_tensor,
    squeeze_or_expand_to_same_rank,
    target_tensor,
)
from lamina.losses.regression import (
    l2_normalize,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from lamina.metrics.reduction_metrics import Mean, MeanMetricWrapper, _as_tensor


def cosine_similarity(y_true, y_pred, axis=-1):
    """Cosine similarity along `axis`: 1 for parallel vectors, -1 for opposite
    ones (the loss of the same name is its negative)."""
    y_pred = prediction_tensor(y_pred)
    y_true = target_tensor(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return torch.sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), dim=axis)


class MeanSquaredError(MeanMetricWrapper):
    """Running mean of the squared error. See `lamina.losses.mean_squared_error`.

    Args:
        name: Defaults to `"mean_squared_error"`.
        dtype: Defaults to `floatx()`.
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(fn=mean_squared_error, name=name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean of the absolute error."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Running mean of the absolute percentage error."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Running mean of the squared logarithmic error."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class RootMeanSquaredError(Mean):
    """Square root of the running mean of squared errors over all elements.

    Args:
        name: Defaults to `"root_mean_squared_error"`.
        dtype: Defaults to `floatx()`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.RootMeanSquaredError()
    >>> float(m([[0.0, 1.0]], [[2.0, 1.0]]))
    1.4142135381698608
    """

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype=dtype)
        self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            y_pred = _as_tensor(y_pred, self._torch_dtype)
            y_true = _as_tensor(y_true, self._torch_dtype, y_pred.device)
            y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
            self._accumulate(torch.square(y_pred - y_true), sample_weight)

    def result(self):
        return torch.sqrt(super().result())


class CosineSimilarity(MeanMetricWrapper):
    """Running mean of the cosine similarity. See `cosine_similarity`.

    Args:
        name: Defaults to `"cosine_similarity"`.
        dtype: Defaults to `floatx()`.
        axis: The axis holding the vectors. Defaults to `-1`.
    """

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"

    def get_config(self):
        # Keras 3.15 leaves `axis` out of this config; kept so it round-trips.
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


class LogCoshError(MeanMetricWrapper):
    """Running mean of the log-cosh error.

    Args:
        name: Defaults to `"logcosh"`.
        dtype: Defaults to `floatx()`.
    """

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(log_cosh, name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
