"""Metrics built on confusion-matrix counts: TruePositives and friends,
Precision, Recall, and AUC (ROC or PR), with Keras 3's thresholds, weighting
and interpolation (`keras/src/metrics/confusion_metrics.py`). The rate-at-rate
metrics (PrecisionAtRecall and friends) are in `rate_at_rate_metrics.py`."""

import numpy as np
import torch

from lamina.backend import config as _config
from lamina.backend import convert_to_numpy, get_device
from lamina.backend import dtypes as _dtypes
from lamina.losses.loss import divide_no_nan
from lamina.metrics import confusion_utils as cu
from lamina.metrics.metric import Metric

_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = {
    "interpolation": "interpolation",
    "majoring": "majoring",
    "minoring": "minoring",
}


class _ThresholdedMetric(Metric):
    """Shared set-up: thresholds as a list (Keras's attribute) and on device."""

    def _init_thresholds(self, thresholds):
        self.thresholds = thresholds
        self._thresholds_distributed_evenly = cu.is_evenly_distributed_thresholds(
            thresholds
        )
        self._thresholds_with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        self._thresholds_tensor = torch.tensor(
            np.asarray(thresholds, dtype=np.float64),
            # The counts' dtype (floatx), as Keras: -1e10 is -inf in float16.
            dtype=_dtypes.to_torch_dtype(_config.floatx()),
            device=get_device(),
        )

    def _update(self, variables, y_true, y_pred, sample_weight, **kwargs):
        with torch.no_grad():
            cu.update_confusion_matrix_variables(
                variables,
                y_true,
                y_pred,
                self._thresholds_tensor,
                evenly_distributed=self._thresholds_distributed_evenly,
                thresholds_with_epsilon=self._thresholds_with_epsilon,
                sample_weight=sample_weight,
                **kwargs,
            )


class _ConfusionMatrixConditionCount(_ThresholdedMetric):
    def __init__(self, condition, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._condition = condition
        self.init_thresholds = thresholds
        self._init_thresholds(cu.parse_init_thresholds(thresholds, 0.5))
        self.accumulator = self.add_variable(
            shape=(len(self.thresholds),), initializer="zeros", name="accumulator"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._update({self._condition: self.accumulator}, y_true, y_pred, sample_weight)

    def result(self):
        if len(self.thresholds) == 1:
            return self.accumulator[0].clone()
        return self.accumulator.clone()

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionMatrixConditionCount):
    """Weighted count of positives predicted positive (`y_pred > threshold`).

    Args:
        thresholds: A float or list of floats in [0, 1]; one count per
            threshold. Defaults to `0.5`.
        name: Defaults to `"true_positives"`.
        dtype: Defaults to `floatx()`.
    """

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(cu.TP, thresholds=thresholds, name=name, dtype=dtype)


class FalsePositives(_ConfusionMatrixConditionCount):
    """Weighted count of negatives predicted positive. See `TruePositives`."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(cu.FP, thresholds=thresholds, name=name, dtype=dtype)


class TrueNegatives(_ConfusionMatrixConditionCount):
    """Weighted count of negatives predicted negative. See `TruePositives`."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(cu.TN, thresholds=thresholds, name=name, dtype=dtype)


class FalseNegatives(_ConfusionMatrixConditionCount):
    """Weighted count of positives predicted negative. See `TruePositives`."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(cu.FN, thresholds=thresholds, name=name, dtype=dtype)


class _PrecisionRecall(_ThresholdedMetric):
    _other = None  # "fp" for precision, "fn" for recall

    def __init__(
        self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None
    ):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else cu.NEG_INF
        self._init_thresholds(cu.parse_init_thresholds(thresholds, default))
        size = (len(self.thresholds),)
        self.true_positives = self.add_variable(
            shape=size, initializer="zeros", name="true_positives"
        )
        other_name = "false_positives" if self._other == cu.FP else "false_negatives"
        other = self.add_variable(shape=size, initializer="zeros", name=other_name)
        setattr(self, other_name, other)
        self._counts = {cu.TP: self.true_positives, self._other: other}

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._update(
            self._counts,
            y_true,
            y_pred,
            sample_weight,
            top_k=self.top_k,
            class_id=self.class_id,
        )

    def result(self):
        tp = self.true_positives
        value = divide_no_nan(tp, tp + self._counts[self._other])
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self):
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_PrecisionRecall):
    """Share of predicted positives that are positive: `tp / (tp + fp)`.

    Args:
        thresholds: A float or list of floats in [0, 1]; a prediction is positive
            above it. Defaults to `0.5` (or, with `top_k`, any score).
        top_k: Only the `k` highest scores per sample may be positive.
            Defaults to `None`.
        class_id: Only this class column counts. Defaults to `None`.
        name: Defaults to `"precision"`.
        dtype: Defaults to `floatx()`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.Precision()
    >>> float(m([0, 1, 1, 1], [1, 0, 1, 1]))
    0.6666666865348816
    """

    _other = cu.FP


class Recall(_PrecisionRecall):
    """Share of positives predicted positive: `tp / (tp + fn)`. Arguments as in
    `Precision`; the name defaults to `"recall"`."""

    _other = cu.FN


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from counts at thresholds.

    Args:
        num_thresholds: Number of thresholds, evenly spaced over [0, 1].
            Defaults to `200`.
        curve: `"ROC"` or `"PR"` (or `"PRGAIN"`). Defaults to `"ROC"`.
        summation_method: `"interpolation"` (trapezoids; for PR the
            Davis-Goadrich interpolation), `"minoring"` or `"majoring"`.
            Defaults to `"interpolation"`.
        name: Defaults to `"auc"`.
        dtype: Defaults to `floatx()`.
        thresholds: Explicit thresholds in [0, 1] instead of `num_thresholds`.
        multi_label: Compute one curve per label column and average them.
            Defaults to `False`.
        num_labels: Number of label columns with `multi_label` (else taken from
            the first batch).
        label_weights: Per-label weights for the average (or, without
            `multi_label`, for the counts).
        from_logits: Apply a sigmoid to `y_pred` first. Defaults to `False`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.AUC(num_thresholds=3)
    >>> float(m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]))
    0.75
    """

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        self._direction = "up"
        if str(curve).lower() not in _CURVES:
            raise ValueError(
                f'Invalid AUC curve value: "{curve}". AUC expects `curve` to '
                'be one of "ROC", "PR", "PRGAIN".'
            )
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(
                f'Invalid AUC summation method value: "{summation_method}". AUC '
                "expects `summation_method` to be one of "
                '"interpolation", "majoring", "minoring".'
            )
        self._init_from_thresholds = thresholds is not None
        eps = _config.epsilon()
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(thresholds)
            self._thresholds_distributed_evenly = cu.is_evenly_distributed_thresholds(
                np.array([0.0] + thresholds + [1.0])
            )
        else:
            if num_thresholds <= 1:
                raise ValueError(
                    "Argument `num_thresholds` must be an integer > 1: AUC needs "
                    "at least two thresholds; got "
                    f"num_thresholds={num_thresholds!r}."
                )
            self.num_thresholds = num_thresholds
            thresholds = [
                (i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)
            ]
            self._thresholds_distributed_evenly = True
        # End points just outside [0, 1] so that scores of exactly 0 or 1 land
        # on the right side of them despite rounding.
        self._thresholds = np.array([0.0 - eps] + thresholds + [1.0 + eps])
        self.curve = _CURVES[str(curve).lower()]
        self.summation_method = _SUMMATIONS[str(summation_method).lower()]
        super().__init__(name=name, dtype=dtype)
        self._thresholds_tensor = torch.tensor(
            self._thresholds,
            dtype=_dtypes.to_torch_dtype(_config.floatx()),
            device=get_device(),
        )
        self.multi_label = multi_label
        self.num_labels = num_labels
        if label_weights is None:
            self.label_weights = None
            self._label_weights_config = None
        else:
            weights = convert_to_numpy(label_weights).astype(np.float64).reshape(-1)
            self.label_weights = torch.tensor(
                weights, dtype=self._torch_dtype, device=get_device()
            )
            self._label_weights_config = weights.tolist()
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build([None, num_labels])
        else:
            if num_labels:
                raise ValueError(
                    "AUC got num_labels without multi_label=True; num_labels is "
                    "only used with multi_label=True. Drop it, or set "
                    "multi_label=True."
                )
            self._build(None)

    @property
    def thresholds(self) -> list:
        """The thresholds used, including the two end points."""
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(
                    f"AUC '{self.name}' with multi_label=True expects y_pred of rank "
                    f"2 (batch, num_labels); got shape {tuple(shape)}."
                )
            self._num_labels = shape[1]
            size = (self.num_thresholds, self._num_labels)
        else:
            size = (self.num_thresholds,)
        self._build_input_shape = shape
        self.true_positives = self.add_variable(size, "zeros", name="true_positives")
        self.false_positives = self.add_variable(size, "zeros", name="false_positives")
        self.true_negatives = self.add_variable(size, "zeros", name="true_negatives")
        self.false_negatives = self.add_variable(size, "zeros", name="false_negatives")
        self._counts = {
            cu.TP: self.true_positives,
            cu.TN: self.true_negatives,
            cu.FP: self.false_positives,
            cu.FN: self.false_negatives,
        }
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self._built:
            self._build(tuple(y_pred.shape))
        with torch.no_grad():
            if self._from_logits:
                y_pred = torch.sigmoid(torch.as_tensor(y_pred))
            cu.update_confusion_matrix_variables(
                self._counts,
                y_true,
                y_pred,
                self._thresholds_tensor,
                evenly_distributed=self._thresholds_distributed_evenly,
                thresholds_with_epsilon=True,
                sample_weight=sample_weight,
                multi_label=self.multi_label,
                label_weights=None if self.multi_label else self.label_weights,
            )

    def _average_over_labels(self, by_label):
        if self.label_weights is None:
            return by_label.mean()
        return divide_no_nan(
            (by_label * self.label_weights).sum(), self.label_weights.sum()
        )

    def _interpolate_pr_auc(self):
        # Davis & Goadrich (2006): precision interpolated between thresholds.
        n = self.num_thresholds
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[: n - 1] - tp[1:]
        p = tp + fp
        dp = p[: n - 1] - p[1:]
        prec_slope = divide_no_nan(dtp, dp.clamp_min(0))
        intercept = tp[1:] - prec_slope * p[1:]
        safe_p_ratio = torch.where(
            (p[: n - 1] > 0) & (p[1:] > 0),
            divide_no_nan(p[: n - 1], p[1:].clamp_min(0)),
            torch.ones_like(p[1:]),
        )
        increment = divide_no_nan(
            prec_slope * (dtp + intercept * torch.log(safe_p_ratio)),
            (tp[1:] + fn[1:]).clamp_min(0),
        )
        if self.multi_label:
            return self._average_over_labels(increment.sum(dim=0))
        return increment.sum()

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:  # PRGAIN, with Keras's guards for empty and anti-correlated cases
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * divide_no_nan(fp, tp)
            no_tp = tp == 0.0
            recall_gain = torch.where(no_tp, torch.zeros_like(tp), recall_gain)
            precision_gain = torch.where(no_tp, torch.ones_like(tp), precision_gain)
            x, y = recall_gain.clamp_min(0.0), precision_gain
        n = self.num_thresholds
        if self.summation_method == "interpolation":
            heights = (y[: n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[: n - 1], y[1:])
        else:
            heights = torch.maximum(y[: n - 1], y[1:])
        riemann = (x[: n - 1] - x[1:]) * heights
        if self.multi_label:
            return self._average_over_labels(riemann.sum(dim=0))
        return riemann.sum()

    def reset_state(self):
        if self._built:
            super().reset_state()

    @classmethod
    def from_config(cls, config):
        if isinstance(config.get("label_weights"), dict):
            # Keras writes the weights as a serialized "__tensor__".
            from lamina.saving import deserialize_keras_object

            config = {
                **config,
                "label_weights": deserialize_keras_object(config["label_weights"]),
            }
        return cls(**config)

    def get_config(self):
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self._label_weights_config,
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            # Without the end points, so from_config rebuilds the same list.
            config["thresholds"] = [float(t) for t in self.thresholds[1:-1]]
        return config
