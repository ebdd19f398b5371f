"""CallbackList: calls every callback's hook in order."""

import functools

from lamina.callbacks.callback import Callback
from lamina.callbacks.history import History
from lamina.callbacks.lambda_callback import LambdaCallback
from lamina.callbacks.progbar_logger import ProgbarLogger
from lamina.trainers.trainer_utils import python_logs

_HOOKS = [
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
    "on_train_begin",
    "on_train_end",
    "on_test_begin",
    "on_test_end",
    "on_predict_begin",
    "on_predict_end",
]


class CallbackList(Callback):
    """A container that forwards each hook to its callbacks, in order.

    Args:
        callbacks: List of Callback objects (nested lists are flattened).
        add_history: Add a History callback if none is given.
        add_progbar: Add a ProgbarLogger if none is given.
        model: The model, passed to every callback.
        **params: `epochs`, `steps`, `verbose`, passed to every callback.
    """

    def __init__(
        self, callbacks=None, add_history=False, add_progbar=False, model=None, **params
    ):
        super().__init__()
        from lamina.distribution import is_primary

        if not is_primary():
            # Distributed runs: only rank 0 prints progress.
            add_progbar = False
            if "verbose" in params:
                params["verbose"] = 0
        callbacks = _flatten(callbacks)
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    "callbacks must be lamina.callbacks.Callback instances; got "
                    f"{type(callback).__name__}. Subclass Callback or use "
                    "LambdaCallback."
                )
        self.callbacks = callbacks
        # Keras's order: the History it adds runs before the progress bar.
        if add_history and not any(isinstance(c, History) for c in callbacks):
            self.callbacks.append(History())
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in callbacks):
            self.callbacks.append(ProgbarLogger())
        # Batch hooks only run when some callback overrides them (saves time).
        self._batch_hooks = {
            hook: [c for c in self.callbacks if _overrides(c, hook)]
            for hook in _HOOKS
            if "batch" in hook
        }
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback):
        self.callbacks.append(callback)
        for hook in self._batch_hooks:
            if _overrides(callback, hook):
                self._batch_hooks[hook].append(callback)

    def runs_batch_hooks(self, mode):
        """Whether a callback other than the progress bar acts at the batches of
        `mode` (`"train"`, `"test"` or `"predict"`): it may change weights
        between them."""
        return any(
            not isinstance(callback, ProgbarLogger)
            for when in ("begin", "end")
            for callback in self._batch_hooks[f"on_{mode}_batch_{when}"]
        )

    def set_params(self, params):
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model):
        self._model = model
        for callback in self.callbacks:
            callback.set_model(model)
        history = self.history
        if history is not None and model is not None:
            # Keras: `model.history` is this run's History from the start, so
            # callbacks can read the epochs so far.
            model.history = history

    @property
    def history(self):
        for callback in self.callbacks:
            if isinstance(callback, History):
                return callback
        return None

    def _call(self, hook, *args):
        # Keras: hooks always get a dict, `{}` where the loop has no logs yet,
        # and a copy: what one hook's callbacks add (`learning_rate`) stays out
        # of the loop's own logs (those `on_train_end` gets).
        *head, logs = args
        args = (*head, {} if logs is None else dict(logs))
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def _call_batch(self, hook, batch, logs):
        logs = {} if logs is None else logs
        plain = None
        for callback in self._batch_hooks[hook]:
            if _reads_lazy_logs(type(callback)):
                # Built-in callbacks read the lazy device-side logs as they are.
                getattr(callback, hook)(batch, logs)
                continue
            if plain is None:
                plain = _pythonify_logs(logs)
            getattr(callback, hook)(batch, plain)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)


def _flatten(callbacks) -> list:
    """`callbacks` as one flat list: Keras accepts nested lists and tuples."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        return [callbacks]
    flat = []
    for item in callbacks:
        flat.extend(_flatten(item) if isinstance(item, (list, tuple)) else [item])
    return flat


def _overrides(callback, hook) -> bool:
    """True if `callback`'s class defines `hook` (or its old-style alias), or
    the callback was given one as an attribute (`self.on_test_batch_end = f`,
    which Keras calls too). Decided when the list is made, not per batch."""
    cls = type(callback)
    alias = {
        "on_train_batch_begin": "on_batch_begin",
        "on_train_batch_end": "on_batch_end",
    }.get(hook)
    own = getattr(callback, "__dict__", {})
    if hook in own or (alias is not None and alias in own):
        return True
    if getattr(cls, hook, None) is not getattr(Callback, hook, None):
        return True
    return alias is not None and getattr(cls, alias) is not getattr(Callback, alias)


@functools.cache
def _reads_lazy_logs(cls) -> bool:
    """Built-in callback classes take the device-side logs; user code (a
    subclass outside lamina, or LambdaCallback's functions) gets Python
    values. Decided once per class: this runs at every batch hook."""
    return cls.__module__.startswith("lamina.") and cls is not LambdaCallback


def _pythonify_logs(logs):
    """Logs as user callbacks see them in Keras (`pythonify_logs`): nested
    dicts flattened, keys sorted, every value that converts a Python float,
    other tensors NumPy arrays; the scalars reach the host in one transfer."""
    result = python_logs(logs)
    for key, value in result.items():
        try:
            result[key] = float(value)
        except (TypeError, ValueError):
            pass
    return result
