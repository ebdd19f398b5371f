"""FBetaScore and F1Score: harmonic means of precision and recall per class,
from weighted true/false positive and false negative counts kept on the device
(Keras 3's `keras.metrics.FBetaScore`)."""

import torch

from lamina.backend import config as _config
from lamina.backend import convert_to_tensor, get_device
from lamina.metrics.metric import Metric

_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """F-beta score: `(1 + b^2) * p * r / (b^2 * p + r)` from running counts.

    Args:
        average: How the per-class scores combine: `None` (one score per
            class), `"micro"` (one score from counts summed over classes),
            `"macro"` (the plain mean of the class scores) or `"weighted"`
            (their mean weighted by each class's true count). Defaults to
            `None`.
        beta: Weight of recall against precision, a float > 0. Defaults to
            `1.0`.
        threshold: A float in (0, 1]; a score above it counts as a positive
            prediction. `None` takes the largest score of each row instead.
            Defaults to `None`.
        name: Defaults to `"fbeta_score"`.
        dtype: Defaults to `floatx()`.

    Inputs `y_true` and `y_pred` have shape `(batch, num_classes)`. The result
    has shape `(num_classes,)` with `average=None`, else `()`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.FBetaScore(beta=2.0, threshold=0.5)
    >>> m.update_state([[1, 1, 1], [1, 0, 0]], [[0.2, 0.6, 0.7], [0.6, 0.6, 0.1]])
    >>> [round(v, 4) for v in m.result().tolist()]
    [0.5556, 0.8333, 1.0]
    """

    def __init__(
        self,
        average=None,
        beta: float = 1.0,
        threshold=None,
        name: str = "fbeta_score",
        dtype=None,
    ):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if average not in _AVERAGES:
            raise ValueError(
                "Invalid `average` argument value. Expected one of: "
                "{None, 'micro', 'macro', 'weighted'}. Received: "
                f"average={average} ({self.__class__.__name__} got "
                f"average={average!r})."
            )
        # Keras: beta and threshold must be Python floats (2 is refused, 2.0 not).
        if not isinstance(beta, float):
            raise ValueError(
                "Invalid `beta` argument value. It should be a Python float. "
                f"{self.__class__.__name__} got beta={beta!r} of type "
                f"{type(beta).__name__}. Write e.g. beta=2.0."
            )
        if beta <= 0.0:
            raise ValueError(
                "Invalid `beta` argument value. It should be > 0. Received: "
                f"beta={beta!r} ({self.__class__.__name__})."
            )
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(
                    "Invalid `threshold` argument value. It should be a Python "
                    f"float. Received: threshold={threshold} of type "
                    f"'{type(threshold)}' ({self.__class__.__name__} takes None or "
                    "a float)."
                )
            if threshold <= 0.0 or threshold > 1.0:
                raise ValueError(
                    "Invalid `threshold` argument value. It should verify "
                    f"0 < threshold <= 1. Received: threshold={threshold!r} "
                    f"({self.__class__.__name__})."
                )
        self.average = average
        self.beta = beta
        self.threshold = threshold
        # Micro averaging sums the counts over classes as well as samples.
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                f"{self.__class__.__name__} expects 2D inputs with shape "
                "(batch_size, output_dim). Received input shapes: "
                f"y_pred.shape={tuple(y_pred_shape)} and "
                f"y_true.shape={tuple(y_true_shape)}. ('{self.name}' needs inputs "
                "of rank 2: one row of class scores per sample.)"
            )
        if y_pred_shape[-1] is None:
            raise ValueError(
                f"{self.__class__.__name__} expects 2D inputs with shape "
                "(batch_size, output_dim), with output_dim fully defined (not "
                f"None). Received input shapes: y_pred.shape={tuple(y_pred_shape)} "
                f"and y_true.shape={tuple(y_true_shape)}."
            )
        shape = () if self.average == "micro" else (y_pred_shape[-1],)
        self.true_positives = self.add_variable(
            shape, dtype=self.dtype, name="true_positives"
        )
        self.false_positives = self.add_variable(
            shape, dtype=self.dtype, name="false_positives"
        )
        self.false_negatives = self.add_variable(
            shape, dtype=self.dtype, name="false_negatives"
        )
        self.intermediate_weights = self.add_variable(
            shape, dtype=self.dtype, name="intermediate_weights"
        )
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        device = get_device()
        y_true = convert_to_tensor(y_true, dtype=self.dtype, device=device)
        y_pred = convert_to_tensor(y_pred, dtype=self.dtype, device=device)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        with torch.no_grad():
            if self.threshold is None:
                # Keras: the row's maximum is the prediction, unless it is ~0.
                row_max = y_pred.amax(dim=-1, keepdim=True)
                predicted = (y_pred >= row_max) & (y_pred.abs() > 1e-9)
            else:
                predicted = y_pred > self.threshold
            predicted = predicted.to(y_true.dtype)
            weight = None
            if sample_weight is not None:
                weight = convert_to_tensor(
                    sample_weight, dtype=self.dtype, device=y_true.device
                )
                if weight.dim() <= 1:
                    weight = weight.reshape(-1, 1)

            def weighted_sum(values):
                if weight is not None:
                    values = values * weight
                if self.axis is None:
                    return values.sum()
                return values.sum(dim=self.axis)

            self.true_positives.add_(weighted_sum(predicted * y_true))
            self.false_positives.add_(weighted_sum(predicted * (1 - y_true)))
            self.false_negatives.add_(weighted_sum((1 - predicted) * y_true))
            self.intermediate_weights.add_(weighted_sum(y_true))

    def result(self):
        if not self._built:
            raise ValueError(
                f"{self.__class__.__name__} '{self.name}' has seen no data yet, so "
                "it does not know the number of classes. Call update_state() "
                "before result()."
            )
        eps = _config.epsilon()
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + eps)
        recall = tp / (tp + self.false_negatives + eps)
        b2 = self.beta**2
        score = (1 + b2) * (precision * recall / (b2 * precision + recall + eps))
        if self.average == "weighted":
            support = self.intermediate_weights
            return (score * (support / (support.sum() + eps))).sum()
        if self.average is not None:
            return score.mean()
        return score

    def get_config(self):
        return {
            **super().get_config(),
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """F1 score: `2 * p * r / (p + r)`, i.e. `FBetaScore` with `beta=1.0`.

    Args:
        average: `None`, `"micro"`, `"macro"` or `"weighted"`; see
            `FBetaScore`. Defaults to `None`.
        threshold: A float in (0, 1], or `None` for the row's largest score.
            Defaults to `None`.
        name: Defaults to `"f1_score"`.
        dtype: Defaults to `floatx()`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.F1Score(average="micro", threshold=0.5)
    >>> round(float(m([[1, 0], [0, 1]], [[0.9, 0.2], [0.8, 0.3]])), 4)
    0.5
    """

    def __init__(
        self, average=None, threshold=None, name: str = "f1_score", dtype=None
    ):
        super().__init__(
            average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype
        )

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
