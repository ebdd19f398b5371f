"""Learning-rate schedules passed as `learning_rate=` drive the steps of fit()."""

import math

import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.optimizers import schedules

STEPS = 12  # 3 epochs of 4 batches


def closed_form(name, step):
    """The Keras formulas, written out for the arguments used below."""
    if name == "exponential":
        return 0.1 * 0.5 ** (step / 4)
    if name == "exponential_staircase":
        return 0.1 * 0.5 ** (step // 4)
    if name == "piecewise":
        return 0.1 if step <= 3 else (0.05 if step <= 7 else 0.01)
    if name == "polynomial":
        p = min(step, 8) / 8
        return (0.1 - 0.01) * (1 - p) ** 2 + 0.01
    if name == "inverse_time":
        return 0.1 / (1 + 0.5 * step / 4)
    if name == "cosine":
        p = min(step, 10) / 10
        return 0.1 * ((1 - 0.1) * 0.5 * (1 + math.cos(math.pi * p)) + 0.1)
    if name == "cosine_warmup":
        if step < 4:  # linear warm-up 0 -> 0.2 over 4 steps
            return 0.2 * step / 4
        p = min(step - 4, 6) / 6
        return 0.2 * 0.5 * (1 + math.cos(math.pi * p))
    if name == "cosine_restarts":
        # periods 3, 6 (t_mul 2), peaks 0.1, 0.05 (m_mul 0.5)
        if step < 3:
            return 0.1 * 0.5 * (1 + math.cos(math.pi * step / 3))
        if step < 9:
            return 0.05 * 0.5 * (1 + math.cos(math.pi * (step - 3) / 6))
        return 0.025 * 0.5 * (1 + math.cos(math.pi * (step - 9) / 12))
    raise AssertionError(name)


SCHEDULES = {
    "exponential": lambda: schedules.ExponentialDecay(0.1, 4, 0.5),
    "exponential_staircase": lambda: schedules.ExponentialDecay(
        0.1, 4, 0.5, staircase=True
    ),
    "piecewise": lambda: schedules.PiecewiseConstantDecay([3, 7], [0.1, 0.05, 0.01]),
    "polynomial": lambda: schedules.PolynomialDecay(
        0.1, 8, end_learning_rate=0.01, power=2.0
    ),
    "inverse_time": lambda: schedules.InverseTimeDecay(0.1, 4, 0.5),
    "cosine": lambda: schedules.CosineDecay(0.1, 10, alpha=0.1),
    "cosine_warmup": lambda: schedules.CosineDecay(
        0.0, 6, warmup_target=0.2, warmup_steps=4
    ),
    "cosine_restarts": lambda: schedules.CosineDecayRestarts(
        0.1, 3, t_mul=2.0, m_mul=0.5
    ),
}


class RatePerStep(lamina.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(self.model.optimizer.learning_rate)


def one_weight_model(learning_rate):
    model = lamina.Sequential(
        [
            lamina.Input((1,)),
            layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(lamina.optimizers.SGD(learning_rate), "mse")
    return model


def fit(model, epochs=3, callbacks=()):
    x = np.ones((4, 1), "float32")
    return model.fit(
        x,
        x,
        batch_size=1,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
    )


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_each_step_runs_with_the_schedule_at_that_step(name):
    expected = [closed_form(name, step) for step in range(STEPS)]
    model = one_weight_model(SCHEDULES[name]())
    rates = RatePerStep()
    fit(model, callbacks=[rates])
    np.testing.assert_allclose(rates.rates, expected, rtol=1e-5, atol=1e-9)
    # the SGD updates used exactly those rates: w <- w - lr * 2 (w - 1)
    w = np.float32(0.0)
    for lr in expected:
        w = w - np.float32(lr) * 2 * (w - 1)
    np.testing.assert_allclose(model.get_weights()[0].ravel(), [w], rtol=1e-5)
    assert int(model.optimizer.iterations) == STEPS


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_survives_optimizer_config_round_trip_and_resumes(name):
    optimizer = lamina.optimizers.SGD(SCHEDULES[name]())
    config = lamina.optimizers.serialize(optimizer)
    assert config["config"]["learning_rate"]["module"] == ("keras.optimizers.schedules")
    rebuilt = lamina.optimizers.deserialize(config)
    rebuilt.iterations = 5
    assert rebuilt.learning_rate == pytest.approx(closed_form(name, 5), abs=1e-9)
    assert type(rebuilt._lr_schedule) is type(optimizer._lr_schedule)


def test_rate_read_at_epoch_end_follows_the_step_count():
    model = one_weight_model(schedules.ExponentialDecay(0.1, 4, 0.5))
    logged = []
    lamb = lamina.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: logged.append(model.optimizer.learning_rate)
    )
    fit(model, callbacks=[lamb])
    # after epoch e, 4 (e + 1) steps are done
    np.testing.assert_allclose(logged, [0.05, 0.025, 0.0125], rtol=1e-6)
