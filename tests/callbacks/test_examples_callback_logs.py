"""Regressions found by running Keras's "Writing your own callbacks" guide: the
logs user callbacks receive are what Keras passes them."""

import numpy as np

import lamina


class _Recorder(lamina.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = {}

    def _record(self, hook, logs):
        self.seen.setdefault(hook, logs)

    def on_train_begin(self, logs=None):
        self._record("train_begin", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._record("epoch_begin", logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._record("train_batch_begin", logs)

    def on_train_batch_end(self, batch, logs=None):
        self._record("train_batch_end", logs)

    def on_test_begin(self, logs=None):
        self._record("test_begin", logs)

    def on_test_batch_end(self, batch, logs=None):
        self._record("test_batch_end", logs)

    def on_predict_begin(self, logs=None):
        self._record("predict_begin", logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._record("predict_batch_end", logs)


def _model():
    model = lamina.Sequential(
        [lamina.Input((3,)), lamina.layers.Dense(2, kernel_initializer="ones")]
    )
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    return model


def _run(callback):
    model = _model()
    x = np.ones((4, 3), "float32")
    y = np.zeros((4, 2), "float32")
    model.fit(x, y, batch_size=2, epochs=1, callbacks=[callback], verbose=0)
    model.evaluate(x, y, batch_size=2, callbacks=[callback], verbose=0)
    model.predict(x, batch_size=2, callbacks=[callback], verbose=0)


def test_begin_hooks_get_an_empty_dict_not_none():
    recorder = _Recorder()
    _run(recorder)
    for hook in (
        "train_begin",
        "epoch_begin",
        "train_batch_begin",
        "test_begin",
        "predict_begin",
    ):
        assert recorder.seen[hook] == {}, hook


def test_batch_end_logs_are_python_floats():
    recorder = _Recorder()
    _run(recorder)
    train = recorder.seen["train_batch_end"]
    assert sorted(train) == ["loss", "mae"]
    assert all(type(v) is float for v in train.values())
    # First batch, before the update: outputs 3, targets 0.
    assert train["loss"] == 9.0 and train["mae"] == 3.0
    test = recorder.seen["test_batch_end"]
    assert all(type(v) is float for v in test.values())


def test_predict_batch_end_outputs_are_numpy():
    recorder = _Recorder()
    _run(recorder)
    outputs = recorder.seen["predict_batch_end"]["outputs"]
    assert isinstance(outputs, np.ndarray)
    assert outputs.shape == (2, 2)


def test_lambda_callback_functions_get_python_floats():
    losses = []
    callback = lamina.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: losses.append(logs["loss"])
    )
    model = _model()
    model.fit(
        np.ones((4, 3)), np.zeros((4, 2)), batch_size=2, callbacks=[callback], verbose=0
    )
    assert len(losses) == 2
    assert all(type(v) is float for v in losses)
    assert losses[0] == 9.0
