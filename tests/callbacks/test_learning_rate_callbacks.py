import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.callbacks.learning_rate_scheduler import LearningRateScheduler
from lamina.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau


def one_weight_model(learning_rate=0.1):
    """y = w * x with w = 0: with x = 1, y = 1 and MSE, one SGD step adds 2 * lr."""
    model = lamina.Sequential(
        [
            lamina.Input((1,)),
            layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(lamina.optimizers.SGD(learning_rate), "mse")
    return model


class Scripted(lamina.callbacks.Callback):
    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class RatePerStep(lamina.callbacks.Callback):
    """The learning rate each training step runs with."""

    def on_train_begin(self, logs=None):
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(self.model.optimizer.learning_rate)


def fit(model, epochs, callbacks, steps=1):
    x = np.ones((steps, 1), "float32")
    return model.fit(
        x, x, batch_size=1, epochs=epochs, verbose=0, shuffle=False, callbacks=callbacks
    )


# --- LearningRateScheduler ------------------------------------------------------


def test_scheduler_sets_the_rate_each_epoch_and_the_optimizer_uses_it():
    rates = RatePerStep()
    model = one_weight_model(0.1)
    schedule = LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = fit(model, 3, [schedule, rates], steps=2)
    expected = [0.1, 0.1, 0.05, 0.05, 0.1 / 3, 0.1 / 3]
    np.testing.assert_allclose(rates.rates, expected, rtol=1e-6)
    np.testing.assert_allclose(
        history.history["learning_rate"], [0.1, 0.05, 0.1 / 3], rtol=1e-6
    )
    # closed form of SGD on (w - 1)^2 with those rates
    w = 0.0
    for lr in expected:
        w -= lr * 2 * (w - 1)
    np.testing.assert_allclose(model.get_weights()[0].ravel(), [w], rtol=1e-6)


def test_scheduler_receives_the_current_rate():
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, round(lr, 6)))
        return lr * 0.5

    fit(one_weight_model(0.4), 3, [LearningRateScheduler(schedule)])
    assert seen == [(0, 0.4), (1, 0.2), (2, 0.1)]


def test_scheduler_accepts_a_function_of_the_epoch_alone():
    history = fit(
        one_weight_model(), 2, [LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))]
    )
    np.testing.assert_allclose(
        history.history["learning_rate"], [0.01, 0.02], rtol=1e-6
    )


def test_scheduler_verbose_prints_like_keras(capsys):
    fit(one_weight_model(), 1, [LearningRateScheduler(lambda e, lr: 0.25, verbose=1)])
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.25." in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize("bad", [None, "0.1", [0.1], True])
def test_scheduler_returning_a_non_number_fails_before_any_step(bad):
    model = one_weight_model()
    with pytest.raises(ValueError, match="should be a float.*epoch 0"):
        fit(model, 2, [LearningRateScheduler(lambda epoch, lr: bad)])
    assert int(model.optimizer.iterations) == 0


def test_scheduler_accepts_numpy_and_int_rates():
    history = fit(
        one_weight_model(),
        2,
        [LearningRateScheduler(lambda e, lr: [np.float32(0.5), 1][e])],
    )
    assert history.history["learning_rate"] == [0.5, 1.0]


def test_scheduler_rejects_a_non_callable():
    with pytest.raises(TypeError, match="schedule\\(epoch, lr\\)"):
        LearningRateScheduler(0.1)


def test_scheduler_cannot_override_an_optimizer_schedule():
    model = one_weight_model(lamina.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="learning rate schedule"):
        fit(model, 1, [LearningRateScheduler(lambda e, lr: 0.1)])


# --- ReduceLROnPlateau ---------------------------------------------------------


def plateau_run(values, **kwargs):
    model = one_weight_model(1.0)
    rates = RatePerStep()
    reduce = ReduceLROnPlateau(monitor="val_loss", **kwargs)
    history = fit(model, len(values), [Scripted("val_loss", values), reduce, rates])
    return history, rates.rates, reduce


def test_reduces_after_patience_epochs_and_logs_the_rate():
    history, rates, _ = plateau_run([1.0, 1.0, 1.0, 1.0, 1.0], factor=0.5, patience=2)
    # epoch 0 best; 1 wait 1; 2 wait 2 -> reduce; 3 wait 1; 4 wait 2 -> reduce
    np.testing.assert_allclose(rates, [1.0, 1.0, 1.0, 0.5, 0.5], rtol=1e-7)
    # logs hold the rate the epoch ran with (read before reducing)
    np.testing.assert_allclose(
        history.history["learning_rate"], [1.0, 1.0, 1.0, 0.5, 0.5], rtol=1e-7
    )


def test_cooldown_blocks_reductions_and_keeps_wait_at_zero():
    _, rates, _ = plateau_run([1.0] * 7, factor=0.5, patience=1, cooldown=2)
    # Keras counts the cooldown down before testing it in the same epoch:
    # reduce at 1 (counter 2); 2 -> counter 1; 3 -> counter 0, wait 1, reduce;
    # 4 -> counter 1; 5 -> counter 0, reduce.
    np.testing.assert_allclose(rates, [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125], rtol=1e-7)


def test_min_delta_and_min_lr():
    values = [1.0, 0.99995, 0.999, 0.9, 0.9, 0.9]
    _, rates, _ = plateau_run(values, factor=0.1, patience=1, min_lr=0.05)
    # 0.99995 is within min_delta=1e-4 (no improvement) -> reduce to 0.1 at 1;
    # 0.999 improves; 0.9 improves; then reduce at 4 to max(0.01, 0.05)
    np.testing.assert_allclose(rates, [1.0, 1.0, 0.1, 0.1, 0.1, 0.05], rtol=1e-6)


def test_max_mode_for_accuracy():
    model = one_weight_model(1.0)
    model.compile(lamina.optimizers.SGD(1.0), "mse", metrics=["accuracy"])
    reduce = ReduceLROnPlateau("val_accuracy", factor=0.5, patience=1)
    history = fit(model, 3, [Scripted("val_accuracy", [0.5, 0.7, 0.6]), reduce])
    np.testing.assert_allclose(history.history["learning_rate"], [1.0, 1.0, 1.0])
    assert model.optimizer.learning_rate == pytest.approx(0.5)


def test_missing_monitor_warns_but_still_logs_the_rate():
    model = one_weight_model(1.0)
    with pytest.warns(UserWarning, match="`val_acc` which is not available.*loss"):
        history = fit(model, 1, [ReduceLROnPlateau("val_acc")])
    assert history.history["learning_rate"] == [1.0]


def test_verbose_message(capsys):
    plateau_run([1.0, 1.0], factor=0.5, patience=1, verbose=1)
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.5." in (
        capsys.readouterr().out
    )


def test_factor_must_be_below_one():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)


def test_unknown_argument_is_an_error():
    with pytest.raises(TypeError, match="epsilon"):
        ReduceLROnPlateau(epsilon=0.1)
