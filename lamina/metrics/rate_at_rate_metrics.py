"""The rate-at-rate metrics: the best value of one rate over the thresholds
where another reaches a target (SensitivityAtSpecificity, SpecificityAtSensitivity,
PrecisionAtRecall, RecallAtPrecision), from the same thresholded
confusion-matrix counts as AUC (Keras 3's `confusion_metrics.py`)."""

import torch

from lamina.losses.loss import divide_no_nan
from lamina.metrics import confusion_utils as cu
from lamina.metrics.confusion_metrics import _ThresholdedMetric


class _SensitivitySpecificityBase(_ThresholdedMetric):
    """Counts of all four kinds at `num_thresholds` evenly spaced thresholds;
    the result is the best `dependent` rate among thresholds whose
    `constrained` rate reaches the target `value`."""

    _value_arg = None  # the argument holding the target rate, e.g. "recall"

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        cls_name = self.__class__.__name__
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(
                f"{cls_name} expects `{self._value_arg}` to be a number in [0, 1]; "
                f"got {self._value_arg}={value!r}."
            )
        if value < 0 or value > 1:
            raise ValueError(
                f"`{self._value_arg}` must be in the range [0, 1]. {cls_name} "
                f"got {self._value_arg}={value!r}."
            )
        if (
            isinstance(num_thresholds, bool)
            or not isinstance(num_thresholds, int)
            or num_thresholds <= 0
        ):
            raise ValueError(
                "Argument `num_thresholds` must be an integer > 0. "
                f"{cls_name} got num_thresholds={num_thresholds!r}."
            )
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.value = value
        self.num_thresholds = num_thresholds
        self.class_id = class_id
        setattr(self, self._value_arg, value)
        if num_thresholds == 1:
            thresholds = [0.5]
        else:
            # Keras: exactly 0 and 1 at the ends (no epsilon, unlike AUC).
            inner = [
                (i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)
            ]
            thresholds = [0.0] + inner + [1.0]
        self._init_thresholds(thresholds)
        size = (len(thresholds),)
        self.true_positives = self.add_variable(size, name="true_positives")
        self.false_positives = self.add_variable(size, name="false_positives")
        self.true_negatives = self.add_variable(size, name="true_negatives")
        self.false_negatives = self.add_variable(size, name="false_negatives")
        self._counts = {
            cu.TP: self.true_positives,
            cu.TN: self.true_negatives,
            cu.FP: self.false_positives,
            cu.FN: self.false_negatives,
        }

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._update(
            self._counts, y_true, y_pred, sample_weight, class_id=self.class_id
        )

    def _rates(self):
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        return {
            "recall": divide_no_nan(tp, tp + fn),
            "precision": divide_no_nan(tp, tp + fp),
            "specificity": divide_no_nan(tn, tn + fp),
        }

    def _best_under_constraint(self, constrained, dependent):
        feasible = constrained >= self.value
        # Keras: the maximum with an initial 0, so no feasible threshold gives 0.
        return torch.where(feasible, dependent, torch.zeros_like(dependent)).amax()

    def get_config(self):
        return {
            **super().get_config(),
            "class_id": self.class_id,
            "num_thresholds": self.num_thresholds,
            self._value_arg: self.value,
        }


class SensitivityAtSpecificity(_SensitivitySpecificityBase):
    """Best sensitivity (recall) over thresholds where specificity,
    `tn / (tn + fp)`, is at least `specificity`.

    Args:
        specificity: The required specificity, in [0, 1].
        num_thresholds: Number of thresholds evenly spaced over [0, 1] (one
            threshold, 0.5, when 1). Defaults to `200`.
        class_id: Only this class column counts. Defaults to `None`.
        name: Defaults to `"sensitivity_at_specificity"`.
        dtype: Defaults to `floatx()`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.SensitivityAtSpecificity(0.5, num_thresholds=3)
    >>> float(m([0, 0, 1, 1], [0.0, 0.4, 0.6, 0.9]))
    1.0
    """

    _value_arg = "specificity"

    def __init__(
        self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None
    ):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._best_under_constraint(rates["specificity"], rates["recall"])


class SpecificityAtSensitivity(_SensitivitySpecificityBase):
    """Best specificity over thresholds where sensitivity (recall) is at
    least `sensitivity`. Arguments as in `SensitivityAtSpecificity`, with
    `sensitivity` the required recall; the name defaults to
    `"specificity_at_sensitivity"`."""

    _value_arg = "sensitivity"

    def __init__(
        self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None
    ):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._best_under_constraint(rates["recall"], rates["specificity"])


class PrecisionAtRecall(_SensitivitySpecificityBase):
    """Best precision over thresholds where recall is at least `recall`.
    Arguments as in `SensitivityAtSpecificity`, with `recall` the required
    recall; the name defaults to `"precision_at_recall"`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.PrecisionAtRecall(0.5, num_thresholds=3)
    >>> float(m([0, 0, 1, 1], [0.0, 0.6, 0.6, 0.9]))
    0.6666666865348816
    """

    _value_arg = "recall"

    def __init__(
        self, recall, num_thresholds=200, class_id=None, name=None, dtype=None
    ):
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._best_under_constraint(rates["recall"], rates["precision"])


class RecallAtPrecision(_SensitivitySpecificityBase):
    """Best recall over thresholds where precision is at least `precision`.
    Arguments as in `SensitivityAtSpecificity`, with `precision` the required
    precision; the name defaults to `"recall_at_precision"`."""

    _value_arg = "precision"

    def __init__(
        self, precision, num_thresholds=200, class_id=None, name=None, dtype=None
    ):
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._best_under_constraint(rates["precision"], rates["recall"])
