"""MonitorCallback: the base of callbacks that watch one logged value improve."""

import warnings

from lamina.callbacks.callback import Callback

# Names that mean "higher is better" when a metric object does not say (a plain
# function passed to compile, or a value a custom train_step logs).
_HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1", "fbeta", "iou")


class MonitorCallback(Callback):
    """Shared logic of `EarlyStopping`, `ReduceLROnPlateau` and `ModelCheckpoint`.

    Args:
        monitor: Name of the logged value to watch. Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"`. `"auto"` (the default) reads the
            direction from the model: losses go down; a compiled metric goes the
            way its object says (accuracy, AUC, precision, recall, R2 up; errors
            and crossentropies down). An unknown mode warns and becomes `"auto"`.
        baseline: Initial "best" value; `None` means the first value seen.
        min_delta: The smallest change that counts as an improvement.

    Raises:
        ValueError: From the first epoch's end, if `mode="auto"` cannot tell the
            direction of `monitor`; pass `mode="min"` or `mode="max"`.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode {mode!r} is unknown; using 'auto'. "
                "Pass mode='min', 'max' or 'auto'.",
                stacklevel=3,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        """Choose the comparison once the model's metrics exist (first epoch end)."""
        if self.mode == "min":
            higher_is_better = False
        elif self.mode == "max":
            higher_is_better = True
        else:
            higher_is_better = self._infer_direction()
        self.monitor_op = _greater if higher_is_better else _less
        # Keras folds the sign of min_delta into the comparison.
        if not higher_is_better:
            self.min_delta = -abs(self.min_delta)

    def _infer_direction(self) -> bool:
        name = self.monitor.removeprefix("val_")
        if name == "loss" or name.endswith("_loss"):
            return False
        for metric in _all_metrics(self.model):
            direction = getattr(metric, "_direction", None)
            if metric.name == name and direction in ("up", "down"):
                return direction == "up"
        # Keras 3 raises here; lamina first tries the Keras 2 name rule, which
        # old tutorials rely on (monitor="val_acc" with a function metric).
        lowered = name.lower()
        if any(part in lowered for part in _HIGHER_IS_BETTER):
            return True
        if "loss" in lowered or "error" in lowered or "entropy" in lowered:
            return False
        raise ValueError(
            f"{type(self).__name__} got monitor={self.monitor!r} with mode='auto', "
            "but cannot tell whether that value should go up or down. Pass "
            "mode='max' to keep the highest value or mode='min' for the lowest."
        )

    def _is_improvement(self, monitor_value, reference_value) -> bool:
        if reference_value is None:
            return True
        return self.monitor_op(monitor_value - self.min_delta, reference_value)


def _less(a, b) -> bool:
    return a < b


def _greater(a, b) -> bool:
    return a > b


def _all_metrics(model) -> list:
    """Every metric object of `model`, compiled ones included, depth first."""
    found, stack = [], list(getattr(model, "metrics", None) or [])
    while stack:
        metric = stack.pop(0)
        found.append(metric)
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, (list, tuple)):
            stack[:0] = list(inner)
    return found


def warn_missing_monitor(who: str, monitor: str, logs) -> None:
    """Keras's warning for a monitored value that is not in the logs."""
    available = ",".join(list(logs or {}))
    warnings.warn(
        f"{who} is conditioned on metric `{monitor}` which is not available. "
        f"Available metrics are: {available}. Pass one of these as `monitor`.",
        stacklevel=3,
    )
