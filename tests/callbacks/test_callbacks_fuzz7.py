"""Regressions found by differential callback fuzzing against Keras 3 (torch)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

# Keras 3.15's Variable.__array__ predates NumPy 2's copy keyword (test-only).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

import lamina  # noqa: E402

LIBS = [keras, lamina]


def model_for(lib):
    rng = np.random.default_rng(0)
    model = lib.Sequential(
        [lib.Input((4,)), lib.layers.Dense(3, activation="tanh"), lib.layers.Dense(1)]
    )
    model.set_weights(
        [
            rng.standard_normal((4, 3)).astype("float32"),
            np.zeros(3, "float32"),
            rng.standard_normal((3, 1)).astype("float32"),
            np.zeros(1, "float32"),
        ]
    )
    model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
    return model


def data():
    rng = np.random.default_rng(1)
    return (
        rng.standard_normal((12, 4)).astype("float32"),
        rng.standard_normal((12, 1)).astype("float32"),
    )


def hook_recorder(lib, trace):
    class Record(lib.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            history = getattr(self.model, "history", None)
            seen = None if history is None else len(history.history.get("loss", []))
            trace.append(("epoch_end", epoch, seen))

        def on_train_batch_end(self, batch, logs=None):
            trace.append(("batch_end", batch, sorted(logs)))

        def on_predict_batch_end(self, batch, logs=None):
            trace.append(("predict_batch_end", batch, tuple(logs["outputs"].shape)))

    return Record()


@pytest.mark.parametrize("with_history", [True, False])
def test_fit_runs_a_given_callback_list_as_it_is(with_history):
    x, y = data()
    traces, losses = [], []
    for lib in LIBS:
        model = model_for(lib)
        trace = []
        history = lib.callbacks.History()
        given = [hook_recorder(lib, trace)] + ([history] if with_history else [])
        callbacks = lib.callbacks.CallbackList(given, model=model, epochs=2)
        fit = dict(batch_size=6, epochs=2, verbose=0, shuffle=False)
        if lib is keras and not with_history:
            # Keras 3.15 returns `self.history`, never set on a new model.
            with pytest.raises(AttributeError, match="history"):
                model.fit(x, y, callbacks=callbacks, **fit)
            result = None
        else:
            result = model.fit(x, y, callbacks=callbacks, **fit)
        # No progress bar or History is added to a list the caller built.
        assert [type(c).__name__ for c in callbacks.callbacks] == [
            type(c).__name__ for c in given
        ]
        if with_history:
            assert result is history
            losses.append(result.history["loss"])
        else:
            assert result is None  # lamina: the model's `history`, still None
        traces.append(trace)
    assert traces[1] == traces[0]
    if with_history:
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)


def test_predict_runs_a_given_callback_list():
    x, _ = data()
    traces = []
    for lib in LIBS:
        model = model_for(lib)
        trace = []
        callbacks = lib.callbacks.CallbackList([hook_recorder(lib, trace)], model=model)
        model.predict(x, batch_size=5, verbose=0, callbacks=callbacks)
        traces.append(trace)
    assert (
        traces[1]
        == traces[0]
        == [
            ("predict_batch_end", 0, (5, 1)),
            ("predict_batch_end", 1, (5, 1)),
            ("predict_batch_end", 2, (2, 1)),
        ]
    )


def test_model_history_holds_the_running_fit_s_epochs_in_callbacks():
    # Keras sets `model.history` to the fit's History before the first epoch,
    # so a callback can read the curves so far; a second fit starts afresh.
    x, y = data()
    traces = []
    for lib in LIBS:
        model = model_for(lib)
        trace = []
        for _ in range(2):
            model.fit(
                x,
                y,
                batch_size=6,
                epochs=3,
                verbose=0,
                callbacks=[hook_recorder(lib, trace)],
            )
        traces.append([t for t in trace if t[0] == "epoch_end"])
    assert traces[1] == traces[0] == [("epoch_end", e, e) for e in range(3)] * 2


def test_callback_list_flattens_nested_lists_and_adds_history_first():
    # Keras flattens `callbacks` (`tree.flatten`), but on torch its async set-up
    # then trips over the nested list; lamina runs it. History comes before
    # the progress bar, as in Keras.
    stop = lamina.callbacks.EarlyStopping()
    terminate = lamina.callbacks.TerminateOnNaN()
    callbacks = lamina.callbacks.CallbackList(
        [[stop], (terminate,)], add_history=True, add_progbar=True
    )
    assert callbacks.callbacks[:2] == [stop, terminate]
    assert [type(c).__name__ for c in callbacks.callbacks[2:]] == [
        "History",
        "ProgbarLogger",
    ]
    flat = keras.callbacks.CallbackList(
        [keras.callbacks.EarlyStopping()], add_history=True, add_progbar=True
    )
    assert [type(c).__name__ for c in flat.callbacks[1:]] == [
        "History",
        "ProgbarLogger",
    ]


def test_a_nested_list_of_callbacks_reaches_fit():
    x, y = data()
    trace = []
    model = model_for(lamina)
    model.fit(
        x,
        y,
        batch_size=6,
        epochs=1,
        verbose=0,
        callbacks=[[hook_recorder(lamina, trace)]],
    )
    assert ("epoch_end", 0, 0) in trace


def test_early_stopping_refuses_an_unplaceable_monitor_during_its_warm_up():
    # mode="auto" cannot tell which way "score" should go: Keras raises at the
    # first epoch's end even while start_from_epoch still holds it back.
    x, y = data()
    for lib in LIBS:
        model = model_for(lib)
        model.compile(
            optimizer=lib.optimizers.SGD(0.05), loss="mse", metrics=[score_for(lib)]
        )
        ended = []
        watch = lib.callbacks.LambdaCallback(on_epoch_end=ended_recorder(ended))
        stop = lib.callbacks.EarlyStopping(monitor="score", start_from_epoch=2)
        with pytest.raises(ValueError, match="mode='max'"):
            model.fit(x, y, epochs=4, verbose=0, callbacks=[watch, stop])
        assert ended == [0], lib.__name__


def score_for(lib):
    def score(y_true, y_pred):
        return lib.ops.mean(lib.ops.abs(y_true - y_pred), axis=-1)

    return score


def ended_recorder(ended):
    return lambda epoch, logs: ended.append(epoch)
