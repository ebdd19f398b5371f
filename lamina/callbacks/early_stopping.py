"""EarlyStopping: stop training when a monitored value stops improving."""

import numpy as np

from lamina.callbacks._io_utils import print_msg
from lamina.callbacks.monitor_callback import MonitorCallback, warn_missing_monitor


class EarlyStopping(MonitorCallback):
    """Stop `fit` once `monitor` has not improved for `patience` epochs.

    At each epoch end the monitored value is compared with the best so far; an
    improvement (by more than `min_delta`) resets the wait, anything else adds
    one epoch to it. When the wait reaches `patience` (and this is not the first
    epoch), `model.stop_training` is set and `fit` ends after this epoch.

    Args:
        monitor: Logged value to watch. Defaults to `"val_loss"`.
        min_delta: Smallest change that counts as an improvement. Defaults to 0.
        patience: Epochs without improvement before stopping. Defaults to 0.
        verbose: 1 prints a line when training stops and when weights are
            restored. Defaults to 0.
        mode: `"auto"`, `"min"` or `"max"` (see `MonitorCallback`).
        baseline: Value the monitored quantity must beat. An epoch that improves
            on the best so far but not on `baseline` does not reset the wait, so
            training stops after `patience` epochs unless the baseline is beaten.
        restore_best_weights: At the end of training (stopped early or not),
            put back the weights of the best epoch. Defaults to `False`.
        start_from_epoch: Epochs to let pass before watching (a warm-up).
            Defaults to 0.

    Attributes:
        stopped_epoch: The 0-based epoch at which training was stopped (0 if it
            was not).
        best_epoch: The 0-based epoch with the best value.

    Example:
    >>> model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> stop = lamina.callbacks.EarlyStopping(monitor="loss", patience=1)
    >>> history = model.fit(np.zeros((4, 2)), np.zeros(4), epochs=10,
    ...                     callbacks=[stop], verbose=0)
    >>> len(history.history["loss"])  # a constant loss never improves
    2
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.start_from_epoch = start_from_epoch
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        # The same instance may serve several fit() calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None:
            return
        if self.monitor_op is None:
            # Set up once the model's metrics exist (and only for a value that
            # is logged: a misspelt monitor warns instead of failing). Keras
            # does this during the warm-up too, so a bad `mode` fails at once.
            self._set_monitor_op()
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Keras: until something improves, the first watched epoch is best.
            self.best_weights = _snapshot(self.model)
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = _snapshot(self.model)
            # Only beating the baseline too restarts the wait.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        """The monitored value from `logs`, or `None` with a warning."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            warn_missing_monitor("Early stopping", self.monitor, logs)
        return value


def _snapshot(model):
    """Copies of the weights: on the CPU, NumPy views would follow training.

    A model whose `get_weights()` returns something other than a list (a
    stand-in model) has its value kept as is, as Keras keeps it.
    """
    weights = model.get_weights()
    if not isinstance(weights, (list, tuple)):
        return weights
    return [np.array(w, copy=True) for w in weights]
