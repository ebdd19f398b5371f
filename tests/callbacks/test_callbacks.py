import numpy as np

import lamina
from lamina import layers


def small_model():
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(2, "softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_every_hook_is_called_in_keras_order_with_logs():
    events = []

    class Recorder(lamina.callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append(("train_begin", self.params["epochs"], self.params["steps"]))

        def on_epoch_begin(self, epoch, logs=None):
            events.append(("epoch_begin", epoch))

        def on_train_batch_end(self, batch, logs=None):
            events.append(("batch_end", batch, sorted(logs)))

        def on_test_begin(self, logs=None):
            events.append(("test_begin",))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, sorted(logs)))

        def on_train_end(self, logs=None):
            events.append(("train_end",))

    x = np.ones((4, 3), "float32")
    y = np.array([0, 1, 0, 1])
    small_model().fit(
        x,
        y,
        batch_size=2,
        epochs=1,
        validation_data=(x, y),
        verbose=0,
        callbacks=[Recorder()],
    )
    assert events == [
        ("train_begin", 1, 2),
        ("epoch_begin", 0),
        ("batch_end", 0, ["accuracy", "loss"]),
        ("batch_end", 1, ["accuracy", "loss"]),
        ("test_begin",),
        ("epoch_end", 0, ["accuracy", "loss", "val_accuracy", "val_loss"]),
        ("train_end",),
    ]


def test_batch_logs_read_as_floats_match_epoch_logs():
    finals = []

    class LastBatch(lamina.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.last = float(logs["loss"])

        def on_epoch_end(self, epoch, logs=None):
            finals.append((self.last, logs["loss"]))

    x = np.random.rand(10, 3).astype("float32")
    y = np.random.randint(0, 2, 10)
    small_model().fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[LastBatch()])
    for batch_value, epoch_value in finals:
        assert batch_value == epoch_value


def test_evaluate_and_predict_run_their_callbacks():
    events = []

    class Recorder(lamina.callbacks.Callback):
        def on_test_end(self, logs=None):
            events.append(("test_end", sorted(logs)))

        def on_predict_batch_end(self, batch, logs=None):
            events.append(("predict_batch", tuple(logs["outputs"].shape)))

    model = small_model()
    x = np.ones((3, 3), "float32")
    model.evaluate(x, np.array([0, 1, 0]), verbose=0, callbacks=[Recorder()])
    model.predict(x, verbose=0, callbacks=[Recorder()])
    assert events == [("test_end", ["accuracy", "loss"]), ("predict_batch", (3, 2))]


def test_progress_bar_prints_keras_style_lines(capsys):
    x = np.random.rand(10, 3).astype("float32")
    y = np.random.randint(0, 2, 10)
    small_model().fit(x, y, batch_size=5, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "2/2 - " in out and "accuracy: " in out and "loss: " in out


def test_progress_bar_verbose_1_shows_steps(capsys):
    x = np.random.rand(10, 3).astype("float32")
    y = np.random.randint(0, 2, 10)
    model = small_model()
    model.fit(x, y, batch_size=5, epochs=1, verbose=1)
    model.evaluate(x, y, verbose=1)
    out = capsys.readouterr().out
    assert "2/2" in out and "━" in out and "loss: " in out


def test_history_is_returned_and_kept_on_the_model():
    x = np.random.rand(4, 3).astype("float32")
    y = np.random.randint(0, 2, 4)
    model = small_model()
    history = model.fit(x, y, epochs=3, verbose=0)
    assert model.history is history
    assert isinstance(history, lamina.callbacks.History)
    assert len(history.history["loss"]) == 3


def test_history_plot_draws_loss_and_metric_curves():
    matplotlib = __import__("pytest").importorskip("matplotlib")
    matplotlib.use("Agg")
    x = np.random.rand(8, 3).astype("float32")
    y = np.random.randint(0, 2, 8)
    history = small_model().fit(x, y, epochs=3, validation_data=(x, y), verbose=0)
    figure = history.plot()
    axes = figure.get_axes()
    assert len(axes) == 2  # loss, accuracy
    assert all(len(ax.get_lines()) == 2 for ax in axes)  # train + validation
    np.testing.assert_allclose(
        axes[0].get_lines()[0].get_ydata(), history.history["loss"]
    )
