"""Regressions found by differential fit/evaluate fuzzing against Keras 3 (torch)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

# Keras 3.15's Variable.__array__ predates NumPy 2's copy keyword (test-only).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

import lamina  # noqa: E402


def pair(units=1, activation=None):
    """The same small model in Keras and lamina, with Keras's weights."""

    def build(lib):
        return lib.Sequential(
            [
                lib.Input((4,)),
                lib.layers.Dense(5, activation="tanh"),
                lib.layers.Dense(units, activation=activation),
            ]
        )

    k_model, l_model = build(keras), build(lamina)
    l_model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    return k_model, l_model


def data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype("float32")
    y = rng.standard_normal((n, 1)).astype("float32")
    return x, y


def test_a_list_of_one_loss_weight_scales_the_only_output():
    x, y = data()
    losses = []
    for model in pair():
        model.compile(optimizer="sgd", loss=["mse"], loss_weights=[2.0])
        losses.append(model.evaluate(x, y, verbose=0))
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    plain = np.mean((model.predict(x, verbose=0) - y) ** 2)
    assert losses[1] == pytest.approx(2.0 * plain, rel=1e-5)


def test_a_list_of_two_loss_weights_for_one_output_is_refused():
    _, model = pair()
    model.compile(optimizer="sgd", loss="mse", loss_weights=[1.0, 2.0])
    x, y = data()
    with pytest.raises(ValueError, match="loss_weights"):
        model.fit(x, y, verbose=0)


def recorder(lib):
    class Record(lib.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.train_end = None
            self.batches = {}

        def on_train_batch_end(self, batch, logs=None):
            self.batches.setdefault(self.epoch, []).append(batch)

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_end(self, logs=None):
            self.train_end = dict(logs)

    return Record()


def test_keys_callbacks_add_to_epoch_logs_stay_out_of_on_train_end():
    x, y = data()
    ends = []
    for lib, model in zip((keras, lamina), pair()):
        model.compile(optimizer=lib.optimizers.SGD(0.01), loss="mse")
        record = recorder(lib)
        scheduler = lib.callbacks.LearningRateScheduler(lambda epoch, lr: lr)
        history = model.fit(x, y, epochs=2, verbose=0, callbacks=[record, scheduler])
        assert "learning_rate" in history.history  # History still sees it
        ends.append(record.train_end)
    assert list(ends[1]) == list(ends[0]) == ["loss"]
    np.testing.assert_allclose(ends[1]["loss"], ends[0]["loss"], rtol=1e-5)


def test_steps_per_epoch_ends_an_epoch_where_the_data_runs_out():
    # 20 samples in batches of 4 are 5 batches: with steps_per_epoch=2 Keras
    # runs epochs of 2, 2, 1 steps, then starts the data over.
    x, y = data()
    seen = []
    for lib, model in zip((keras, lamina), pair()):
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
        record = recorder(lib)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = model.fit(
                x,
                y,
                batch_size=4,
                epochs=4,
                steps_per_epoch=2,
                shuffle=False,
                verbose=0,
                callbacks=[record],
            )
        seen.append((record.batches, history.history["loss"], model.get_weights()))
        assert any(
            "steps_per_epoch" in str(w.message) or "ran out" in str(w.message)
            for w in caught
        )
    (k_batches, k_loss, k_weights), (l_batches, l_loss, l_weights) = seen
    assert l_batches == k_batches == {0: [0, 1], 1: [0, 1], 2: [0], 3: [0, 1]}
    np.testing.assert_allclose(l_loss, k_loss, rtol=1e-5, atol=1e-6)
    for l_w, k_w in zip(l_weights, k_weights):
        np.testing.assert_allclose(l_w, np.asarray(k_w), rtol=1e-5, atol=1e-6)


def test_steps_per_epoch_that_divides_the_data_runs_full_epochs():
    x, y = data()
    _, model = pair()
    model.compile(optimizer="sgd", loss="mse")
    record = recorder(lamina)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(
            x,
            y,
            batch_size=4,
            epochs=3,
            steps_per_epoch=5,
            shuffle=False,
            verbose=0,
            callbacks=[record],
        )
    assert record.batches == {e: [0, 1, 2, 3, 4] for e in range(3)}


def test_class_weight_gives_weight_one_to_classes_it_does_not_name():
    # Regression-like targets round to classes -2..2; only 0 and 1 are named.
    x, y = data(seed=3)
    y = np.round(y * 1.5).astype("float32")
    assert (y < 0).any() and (y > 1).any()
    losses = []
    for lib, model in zip((keras, lamina), pair()):
        model.compile(optimizer=lib.optimizers.SGD(0.01), loss="mse")
        history = model.fit(
            x,
            y,
            batch_size=8,
            epochs=2,
            shuffle=False,
            verbose=0,
            class_weight={0: 3.0, 1: 0.5},
        )
        losses.append(history.history["loss"])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5, atol=1e-6)


def test_class_weight_with_sample_weight_is_refused_as_in_keras():
    x, y = data()
    y = (y > 0).astype("float32")
    k_model, l_model = pair(activation="sigmoid")
    for model in (k_model, l_model):
        model.compile(optimizer="sgd", loss="binary_crossentropy")
    kwargs = dict(
        sample_weight=np.ones(20, "float32"), class_weight={0: 1.0, 1: 2.0}, verbose=0
    )
    with pytest.raises(ValueError):
        k_model.fit(x, y, **kwargs)
    with pytest.raises(ValueError, match="class_weight and sample_weight"):
        l_model.fit(x, y, **kwargs)


def test_negative_class_weight_keys_are_refused():
    x, y = data()
    _, model = pair()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="class_weight keys"):
        model.fit(x, y, class_weight={-1: 2.0, 0: 1.0}, verbose=0)


def test_train_and_test_on_batch_report_their_own_batch_as_keras_does():
    x, y = data()
    results = []
    for lib, model in zip((keras, lamina), pair()):
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        results.append(
            [
                model.train_on_batch(x, y),
                model.train_on_batch(x, y, return_dict=True),
                model.test_on_batch(x, y, return_dict=True),
                model.test_on_batch(x[:5], y[:5]),
            ]
        )
    (k_first, k_second, k_test, k_small), (l_first, l_second, l_test, l_small) = results
    np.testing.assert_allclose(l_first, k_first, rtol=1e-5, atol=1e-6)
    assert list(l_second) == list(k_second) == ["loss", "mae"]
    for key in k_second:
        np.testing.assert_allclose(l_second[key], k_second[key], rtol=1e-5)
        np.testing.assert_allclose(l_test[key], k_test[key], rtol=1e-5)
    np.testing.assert_allclose(l_small, k_small, rtol=1e-5, atol=1e-6)


def test_validation_steps_evaluate_the_first_batches_every_epoch():
    # 12 validation samples in batches of 4 are 3 batches; validation_steps=2
    # reads batches 0 and 1 at every epoch in Keras.
    x, y = data()
    vx, vy = data(n=12, seed=5)
    seen = []
    for lib, model in zip((keras, lamina), pair()):
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
        history = model.fit(
            x,
            y,
            batch_size=4,
            epochs=3,
            shuffle=False,
            verbose=0,
            validation_data=(vx, vy),
            validation_steps=2,
        )
        seen.append(history.history["val_loss"])
    np.testing.assert_allclose(seen[1], seen[0], rtol=1e-5, atol=1e-6)
    _, model = pair()
    model.compile(optimizer="sgd", loss="mse")
    for _ in range(2):  # the same two batches each time, with no training between
        assert model.evaluate(vx, vy, batch_size=4, steps=2, verbose=0) == (
            pytest.approx(
                float(np.mean((model.predict(vx[:8], verbose=0) - vy[:8]) ** 2)),
                rel=1e-5,
            )
        )
