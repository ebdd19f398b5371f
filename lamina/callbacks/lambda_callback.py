"""LambdaCallback: a callback built from plain functions."""

from lamina.callbacks.callback import Callback

_HOOKS = (
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_begin",
    "on_train_end",
    "on_test_begin",
    "on_test_end",
    "on_predict_begin",
    "on_predict_end",
)
_BATCH_HOOKS = (
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)
_ALIASES = {
    "on_batch_begin": "on_train_batch_begin",
    "on_batch_end": "on_train_batch_end",
}


class LambdaCallback(Callback):
    """Run the given functions at the matching hooks of `fit`/`evaluate`/`predict`.

    Functions get the hook's arguments positionally: `(epoch, logs)` for epoch
    hooks, `(batch, logs)` for batch hooks, `(logs)` for begin/end hooks.

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end,
        on_train_batch_begin, on_train_batch_end: Functions, or `None`.
        **kwargs: Any other hook by name (`on_test_end=...`,
            `on_predict_batch_end=...`, or the old `on_batch_end=...`). A
            name that does not start with `on_` is set as an attribute, as
            Keras does; an unknown `on_...` name (a misspelt hook) raises.

    Example:
    >>> seen = []
    >>> record = lamina.callbacks.LambdaCallback(
    ...     on_epoch_end=lambda epoch, logs: seen.append(epoch))
    >>> model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> _ = model.fit(np.zeros((4, 2)), np.zeros(4), epochs=3, verbose=0,
    ...               callbacks=[record])
    >>> seen
    [0, 1, 2]
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        functions = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        extra = {}
        for name, function in kwargs.items():
            hook = _ALIASES.get(name, name)
            if not hook.startswith("on_"):
                extra[name] = function  # Keras: other names become attributes
                continue
            if hook not in _HOOKS + _BATCH_HOOKS:
                raise ValueError(
                    f"LambdaCallback got an unknown hook {name!r}. Hooks are: "
                    f"{', '.join(_HOOKS + _BATCH_HOOKS)}."
                )
            functions[hook] = function
        for name, function in functions.items():
            if function is not None and not callable(function):
                raise TypeError(
                    f"LambdaCallback expects `{name}` to be a function; got "
                    f"{type(function).__name__} {function!r}."
                )
        self.__dict__.update(extra)
        # Epoch and begin/end hooks become instance attributes, as in Keras.
        for name in _HOOKS:
            if functions.get(name) is not None:
                setattr(self, name, functions[name])
        # Batch hooks go through the methods below: CallbackList calls a
        # callback's batch hooks only when its class defines them.
        self._batch_functions = {
            name: functions[name]
            for name in _BATCH_HOOKS
            if functions.get(name) is not None
        }

    def _run(self, hook, batch, logs):
        function = self._batch_functions.get(hook)
        if function is not None:
            function(batch, logs=logs)  # Keras passes logs by keyword

    def on_train_batch_begin(self, batch, logs=None):
        self._run("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._run("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._run("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._run("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._run("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._run("on_predict_batch_end", batch, logs)
