"""An epoch (and evaluate) ends with the model's metric results when the last
step's logs name exactly those metrics, else with the step's own logs, as
Keras does (IIC_cluster returns {"loss": raw_value} from a custom train_step
while the compiled loss tracker stays at 0, and Keras logs 0)."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina

X = np.linspace(-1, 1, 16, dtype="float32").reshape(8, 2)
Y = np.ones((8, 1), dtype="float32")


def _model(lib, extra_key):
    class RawLogs(lib.Model):
        def __init__(self):
            super().__init__()
            self.dense = lib.layers.Dense(1, kernel_initializer="ones")

        def call(self, x):
            return self.dense(x)

        def _logs(self, data):
            x, y = data
            raw = lib.ops.mean(lib.ops.square(self(x) - y)) + 1.0
            return {"loss": raw, "raw": raw} if extra_key else {"loss": raw}

        def train_step(self, data):
            return self._logs(data)

        def test_step(self, data):
            return self._logs(data)

    model = RawLogs()
    model.compile(optimizer="sgd")
    return model


def _run(lib, extra_key):
    lib.utils.set_random_seed(0)
    model = _model(lib, extra_key)
    model(X[:1])
    history = model.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    evaluated = model.evaluate(X, Y, batch_size=4, verbose=0, return_dict=True)
    return history.history, evaluated


def test_logs_naming_only_the_metrics_report_the_metrics():
    history, evaluated = _run(lamina, extra_key=False)
    # The compiled loss tracker was never updated: its result (0) wins.
    assert history["loss"] == [0.0, 0.0]
    assert evaluated == {"loss": 0.0}


def test_logs_with_other_keys_are_kept():
    history, evaluated = _run(lamina, extra_key=True)
    assert history["loss"] == history["raw"] and history["loss"][0] > 1.0
    assert evaluated["loss"] == evaluated["raw"] > 1.0


@pytest.mark.parametrize("extra_key", [False, True])
def test_matches_keras(extra_key):
    keras = pytest.importorskip("keras")
    ours, theirs = _run(lamina, extra_key), _run(keras, extra_key)
    assert sorted(ours[0]) == sorted(theirs[0])
    for key in ours[0]:
        np.testing.assert_allclose(ours[0][key], theirs[0][key], rtol=1e-6)
    assert sorted(ours[1]) == sorted(theirs[1])
    for key in ours[1]:
        np.testing.assert_allclose(ours[1][key], theirs[1][key], rtol=1e-6)
