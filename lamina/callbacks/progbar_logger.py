"""ProgbarLogger: the progress bar `fit`, `evaluate` and `predict` print."""

import time

from lamina.callbacks.callback import Callback
from lamina.utils import io_utils


class ProgbarLogger(Callback):
    """Prints Keras's progress bar (verbose=1) or one line per epoch (verbose=2).

    Values are read from the device only when the bar redraws, so training does
    not wait on the device every step.
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False
        self._last_draw = 0.0

    # Redraw at most this often: reading logs waits for the device.
    _INTERVAL = 0.05

    def set_params(self, params):
        verbose = params.get("verbose", 1)
        if verbose == "auto":
            verbose = 1
        self.verbose = verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        if self.verbose and self.epochs > 1:
            io_utils.print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_end(self, logs=None):
        self._finalize(None)

    def _reset_progbar(self):
        self.seen = 0
        self.progbar = None
        self._last_draw = 0.0

    def _maybe_init_progbar(self):
        if self.progbar is None:
            from lamina.utils import Progbar

            self.progbar = Progbar(
                target=self.target, verbose=self.verbose, unit_name="step"
            )

    def _update(self, batch, logs):
        if not self.verbose:
            return
        self._maybe_init_progbar()
        self.seen = batch + 1
        now = time.monotonic()
        if self.verbose != 1 or (
            now - self._last_draw < self._INTERVAL and self.seen != self.target
        ):
            return
        self._last_draw = now
        values = _items(logs)
        self._mark_stateful(values)
        self.progbar.update(self.seen, values, finalize=False)

    def _finalize(self, logs):
        if not self.verbose:
            return
        self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.seen
        values = _items(logs)
        self._mark_stateful(values)
        self.progbar.update(self.target, values, finalize=True)

    def _mark_stateful(self, values):
        # Logged values are already running means over the epoch; the bar must
        # show them as they are, not average them again.
        self.progbar.stateful_metrics.update(key for key, _ in values)


def _items(logs) -> list:
    """`(name, value)` pairs of `logs`, a nested dict's entries in its place
    (a custom train_step returning `{m.name: m.result() for m in self.metrics}`
    logs the compiled metrics as one dict, which Keras shows flattened), by
    sorted key as Keras shows them."""
    items = []
    try:
        entries = sorted((logs or {}).items())
    except AttributeError:
        from lamina.trainers.trainer_utils import step_logs_error

        raise step_logs_error(logs) from None
    for key, value in entries:
        if isinstance(value, dict):
            items.extend(_items(value))
        else:
            items.append((key, value))
    return items
