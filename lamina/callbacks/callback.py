"""Callback: the base class of objects that watch and steer fit/evaluate/predict."""


class Callback:
    """Override any of the `on_*` hooks; each gets a `logs` dict.

    Epoch-level `logs` hold Python floats (`loss`, metrics, `val_*`). Batch-level
    `logs` hold 0-d tensors that stay on the device until read: `float(logs["loss"])`
    reads one (reading every batch costs a device sync, so read sparingly).

    Attributes:
        model: The model being trained (set by `fit`).
        params: `{"epochs", "steps", "verbose"}`.
    """

    def __init__(self):
        self.params = {}
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Alias of `on_train_batch_begin`, kept for older code."""

    def on_batch_end(self, batch, logs=None):
        """Alias of `on_train_batch_end`, kept for older code."""

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass
