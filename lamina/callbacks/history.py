"""History: records every epoch's logs; `fit` returns it."""

from lamina.callbacks.callback import Callback


class History(Callback):
    """`history.history` maps each log name (`loss`, `accuracy`, `val_loss`, ...)
    to its list of per-epoch values; `history.epoch` lists the epoch indices.

    `history.plot()` draws the curves with matplotlib.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(self, metrics=None, ax=None):
        """Plot loss and metrics per epoch (validation dashed); returns the Figure."""
        from lamina.utils import plot_history

        return plot_history(self, metrics=metrics, ax=ax)
