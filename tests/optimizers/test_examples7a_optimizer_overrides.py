"""Subclasses of built-in optimizers that override `update_step` or `apply`.

keras-io's gradient-centralization example subclasses RMSprop; in Keras 3 fit
calls `optimizer.apply`, which calls `update_step` per variable, so overriding
either changes training. lamina's fast path must honour both.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina
from lamina import ops, optimizers

X = np.random.default_rng(0).random((16, 8)).astype("float32")
Y = np.random.default_rng(1).random((16, 1)).astype("float32")


def _centralize(g):
    if len(g.shape) > 1:
        g = g - ops.mean(g, axis=list(range(len(g.shape) - 1)), keepdims=True)
    return g


def _train(lib, optimizer):
    model = lib.Sequential(
        [
            lib.Input((8,)),
            lib.layers.Dense(4, kernel_initializer="ones"),
            lib.layers.Dense(1, kernel_initializer="ones"),
        ]
    )
    model.compile(loss="mse", optimizer=optimizer)
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    return [np.asarray(w) for w in model.get_weights()]


class _CentralStep(optimizers.RMSprop):
    def update_step(self, gradient, variable, learning_rate):
        super().update_step(_centralize(gradient), variable, learning_rate)


class _CentralApply(optimizers.RMSprop):
    def apply(self, grads, trainable_variables=None):
        super().apply([_centralize(g) for g in grads], trainable_variables)


class _CentralStepChild(_CentralStep):
    pass


@pytest.mark.parametrize("cls", [_CentralStep, _CentralApply, _CentralStepChild])
def test_overridden_update_step_or_apply_changes_training(cls):
    plain = _train(lamina, optimizers.RMSprop(0.01))
    central = _train(lamina, cls(0.01))
    assert not np.allclose(plain[0], central[0])
    keras = pytest.importorskip("keras")
    from keras import ops as kops

    def kcentral(g):
        if len(g.shape) > 1:
            g = g - kops.mean(g, axis=list(range(len(g.shape) - 1)), keepdims=True)
        return g

    if cls is _CentralApply:

        class KCentral(keras.optimizers.RMSprop):
            def apply(self, grads, trainable_variables=None):
                super().apply([kcentral(g) for g in grads], trainable_variables)

    else:

        class KCentral(keras.optimizers.RMSprop):
            def update_step(self, gradient, variable, learning_rate):
                super().update_step(kcentral(gradient), variable, learning_rate)

    expected = _train(keras, KCentral(0.01))
    for got, want in zip(central, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "base, kwargs",
    [
        (optimizers.Adam, {}),
        (optimizers.Adam, {"weight_decay": 0.1}),
        (optimizers.Nadam, {}),
        (optimizers.SGD, {"momentum": 0.9, "nesterov": True}),
        (optimizers.RMSprop, {"momentum": 0.5, "centered": True}),
    ],
)
def test_update_step_calling_super_matches_the_builtin_rule(base, kwargs):
    class Counting(base):
        calls = 0

        def update_step(self, gradient, variable, learning_rate):
            Counting.calls += 1
            super().update_step(gradient, variable, learning_rate)

    expected = _train(lamina, base(0.01, **kwargs))
    got = _train(lamina, Counting(0.01, **kwargs))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
    assert Counting.calls == 4 * 4  # 4 variables, 2 steps x 2 epochs


def test_update_step_receives_the_scheduled_rate_not_bias_corrected_alpha():
    seen = []

    class Recording(optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            seen.append(learning_rate)
            super().update_step(gradient, variable, learning_rate)

    _train(lamina, Recording(0.25))
    assert seen and all(rate == pytest.approx(0.25) for rate in seen)


def test_overrides_keep_builtins_on_the_fast_path():
    assert optimizers.RMSprop._user_apply is False
    assert optimizers.RMSprop(0.1)._compiled_update_supported()
    assert not _CentralStep(0.1)._compiled_update_supported()
    assert not _CentralApply(0.1)._compiled_update_supported()
