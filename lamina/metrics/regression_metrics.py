"""Regression metrics: running means of squared, absolute, percentage and
logarithmic errors, their root, cosine similarity, log-cosh, and R2Score."""

import warnings

import torch

from lamina.backend import convert_to_tensor, get_device
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
from lamina.metrics.metric import Metric
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


_CLASS_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """Coefficient of determination, `1 - SS_residual / SS_total`, per output
    column from running weighted sums, then aggregated.

    Args:
        class_aggregation: How the per-column scores combine: `None` (one per
            column), `"uniform_average"` (their mean) or
            `"variance_weighted_average"` (their mean weighted by each column's
            total sum of squares). Defaults to `"uniform_average"`.
        num_regressors: Number of independent regressors; above 0 the result is
            the adjusted R2, `1 - (1 - R2) (n - 1) / (n - p - 1)`. Defaults to
            `0`.
        name: Defaults to `"r2_score"`.
        dtype: Defaults to `floatx()`.

    Inputs have shape `(batch, num_outputs)`. As in Keras, `n` in the adjusted
    score counts every element seen (`batch * num_outputs` per update).

    Example:
    >>> from lamina import metrics
    >>> m = metrics.R2Score()
    >>> round(float(m([[1.0], [4.0], [3.0]], [[2.0], [4.0], [4.0]])), 4)
    0.5714
    """

    def __init__(
        self,
        class_aggregation="uniform_average",
        num_regressors: int = 0,
        name: str = "r2_score",
        dtype=None,
    ):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if class_aggregation not in _CLASS_AGGREGATIONS:
            raise ValueError(
                "Invalid value for argument `class_aggregation`: R2Score expects "
                f"one of {_CLASS_AGGREGATIONS}; got "
                f"class_aggregation={class_aggregation!r}."
            )
        if (
            isinstance(num_regressors, bool)
            or not isinstance(num_regressors, int)
            or num_regressors < 0
        ):
            raise ValueError(
                "Invalid value for argument `num_regressors`: R2Score expects an "
                "int >= 0 (0 gives the plain R2 score); got "
                f"num_regressors={num_regressors!r}."
            )
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable((), name="num_samples")
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                f"R2Score '{self.name}' expects 2D inputs with shape (batch_size, "
                "num_outputs): y_true and y_pred of rank 2; got "
                f"y_true.shape={tuple(y_true_shape)} and "
                f"y_pred.shape={tuple(y_pred_shape)}."
            )
        num_outputs = y_pred_shape[-1]
        # Keras's order and names (the residual sum is saved as "residual").
        self.squared_sum = self.add_variable((num_outputs,), name="squared_sum")
        self.sum = self.add_variable((num_outputs,), name="sum")
        self.total_mse = self.add_variable((num_outputs,), name="residual")
        self.count = self.add_variable((num_outputs,), name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        device = get_device()
        y_true = convert_to_tensor(y_true, dtype=self.dtype, device=device)
        y_pred = convert_to_tensor(y_pred, dtype=self.dtype, device=device)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        with torch.no_grad():
            if sample_weight is None:
                weight = torch.ones_like(y_true)
            else:
                weight = convert_to_tensor(
                    sample_weight, dtype=self.dtype, device=device
                )
                if weight.dim() == 1:
                    weight = weight.unsqueeze(1)
                weight = weight.broadcast_to(y_true.shape)
            weighted_true = y_true * weight
            self.sum.add_(weighted_true.sum(dim=0))
            self.squared_sum.add_((y_true * weighted_true).sum(dim=0))
            self.total_mse.add_((torch.square(y_true - y_pred) * weight).sum(dim=0))
            self.count.add_(weight.sum(dim=0))
            self.num_samples.add_(y_true.numel())  # a Python int: no host sync

    def result(self):
        if not self._built:
            raise ValueError(
                f"R2Score '{self.name}' has seen no data yet, so it does not know "
                "the number of outputs. Call update_state() before result()."
            )
        mean = self.sum / self.count
        total = self.squared_sum - self.sum * mean
        raw_scores = 1 - self.total_mse / total
        raw_scores = torch.where(
            torch.isinf(raw_scores), torch.zeros_like(raw_scores), raw_scores
        )
        if self.class_aggregation == "uniform_average":
            score = raw_scores.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw_scores).sum() / total.sum()
        else:
            score = raw_scores
        if self.num_regressors == 0:
            return score
        # Adjusted R2. Reading the sample count here syncs with the device once
        # per result() (never per update), as Keras's Python comparison does.
        n = float(self.num_samples)
        p = self.num_regressors
        if p >= n - 1:
            reason = (
                "more independent regressors than data points"
                if p > n - 1
                else "a division by zero"
            )
            warnings.warn(
                f"R2Score '{self.name}': the adjusted R2 score has {reason} "
                f"(num_regressors={p}, samples seen={int(n)}); returning the "
                "plain R2 score.",
                stacklevel=2,
            )
            return score
        return 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)

    def get_config(self):
        return {
            **super().get_config(),
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }
