"""`steps_per_execution=N` groups evaluate's and predict's batches as Keras does:
batch callbacks once per N batches, with the execution's first step on begin and
its last on end; predict's end callback sees the execution's outputs joined."""

import numpy as np

import lamina
from lamina import callbacks, layers, ops


class _Record(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.test, self.predict, self.rows = [], [], []

    def on_test_batch_begin(self, batch, logs=None):
        self.test.append(("begin", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.test.append(("end", batch))

    def on_predict_batch_begin(self, batch, logs=None):
        self.predict.append(("begin", batch))

    def on_predict_batch_end(self, batch, logs=None):
        self.predict.append(("end", batch))
        self.rows.append(ops.convert_to_numpy(logs["outputs"]).shape[0])


def _model(steps_per_execution):
    lamina.utils.set_random_seed(0)
    model = lamina.Sequential([lamina.Input((4,)), layers.Dense(3)])
    model.compile(
        "sgd", "mse", metrics=["mae"], steps_per_execution=steps_per_execution
    )
    return model


def test_evaluate_runs_callbacks_once_per_execution_with_the_same_results():
    rng = np.random.default_rng(0)
    x, y = rng.random((36, 4), "float32"), rng.random((36, 3), "float32")
    one = _model(1).evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    record = _Record()
    model = _model(2)
    grouped = model.evaluate(
        x, y, batch_size=8, verbose=0, return_dict=True, callbacks=[record]
    )
    # Five batches (the last of 4 samples) in executions of two: 0-1, 2-3, 4.
    assert record.test == [
        ("begin", 0), ("end", 1), ("begin", 2), ("end", 3), ("begin", 4), ("end", 4)
    ]  # fmt: skip
    assert grouped.keys() == one.keys()
    for key in one:
        np.testing.assert_allclose(grouped[key], one[key], rtol=1e-6)


def test_predict_joins_each_executions_outputs_for_the_callback():
    x = np.random.default_rng(1).random((36, 4), "float32")
    expected = _model(1).predict(x, batch_size=8, verbose=0)
    record = _Record()
    got = _model(3).predict(x, batch_size=8, verbose=0, callbacks=[record])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # Five batches in executions of three: 0-2 (24 rows), then 3-4 (8 + 4 rows).
    assert record.predict == [("begin", 0), ("end", 2), ("begin", 3), ("end", 4)]
    assert record.rows == [24, 12]
