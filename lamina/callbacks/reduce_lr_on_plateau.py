"""ReduceLROnPlateau: lower the learning rate when a monitored value stalls."""

import numpy as np

from lamina.callbacks._io_utils import print_msg
from lamina.callbacks._learning_rates import rate_owners
from lamina.callbacks.monitor_callback import MonitorCallback, warn_missing_monitor


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by `factor` after `patience` epochs without
    improvement of `monitor`, never going below `min_lr`.

    Each epoch's logs get the optimizer's current rate as `learning_rate`, so
    `History`, `CSVLogger` and `TensorBoard` record it.

    Args:
        monitor: Logged value to watch. Defaults to `"val_loss"`.
        factor: New rate = rate * factor; must be below 1. Defaults to 0.1.
        patience: Epochs without improvement before reducing. Defaults to 10.
        verbose: 1 prints a line at each reduction. Defaults to 0.
        mode: `"auto"`, `"min"` or `"max"` (see `MonitorCallback`).
        min_delta: Smallest change that counts as an improvement.
            Defaults to 1e-4.
        cooldown: Epochs after a reduction during which no new reduction can
            happen (and the wait stays at 0). Defaults to 0.
        min_lr: Lower bound of the rate. Defaults to 0.

    The optimizer must have been created with a float learning rate; a
    `LearningRateSchedule` cannot be overridden (Keras raises too).

    Example:
    >>> model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    >>> model.compile(lamina.optimizers.SGD(0.1), "mse")
    >>> reduce = lamina.callbacks.ReduceLROnPlateau("loss", factor=0.5, patience=1)
    >>> history = model.fit(np.zeros((4, 2)), np.zeros(4), epochs=3,
    ...                     callbacks=[reduce], verbose=0)
    >>> [round(lr, 4) for lr in history.history["learning_rate"]]  # before reducing
    [0.1, 0.1, 0.05]
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        **kwargs,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        if kwargs:
            raise TypeError(
                f"ReduceLROnPlateau got unexpected arguments {sorted(kwargs)}. "
                "It accepts monitor, factor, patience, verbose, mode, min_delta, "
                "cooldown and min_lr."
            )
        if factor >= 1.0:
            raise ValueError(
                "ReduceLROnPlateau does not support a factor >= 1.0 (it would not "
                f"reduce the rate); got factor={factor}. Use e.g. factor=0.1."
            )
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        owners = rate_owners(self.model.optimizer)
        for key, optimizer in owners:
            logs[key] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warn_missing_monitor("Learning rate reduction", self.monitor, logs)
            return
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                reduced = [self._reduce(o, epoch, len(owners) > 1) for _, o in owners]
                if any(reduced):
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def _reduce(self, optimizer, epoch, say_whose=False) -> bool:
        old_lr = float(optimizer.learning_rate)
        # Keras compares with min_lr in float32: the rate is stored in float32.
        if old_lr <= np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            print_msg(
                f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing"
                f"{' ' + optimizer.name if say_whose else ''} learning rate to "
                f"{new_lr}."
            )
        return True

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0
