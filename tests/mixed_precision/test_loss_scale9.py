"""Under "mixed_float16", compile() wraps the optimizer in a LossScaleOptimizer,
as Keras does: `model.optimizer` is that object and does the loss scaling."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina  # noqa: E402
from lamina import optimizers  # noqa: E402


@pytest.fixture(autouse=True)
def _policy():
    yield
    lamina.mixed_precision.set_global_policy("float32")


def _fit(module, policy="mixed_float16", optimizer=None, **compile_kwargs):
    module.utils.set_random_seed(1)
    module.mixed_precision.set_global_policy(policy)
    try:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 4)).astype("float32")
        y = rng.normal(size=(64, 1)).astype("float32")
        model = module.Sequential(
            [
                module.Input((4,)),
                module.layers.Dense(8, "relu", kernel_initializer="ones"),
                module.layers.Dense(1, kernel_initializer="ones"),
            ]
        )
        model.compile(
            optimizer or module.optimizers.Adam(0.01, name="adam"),
            "mse",
            **compile_kwargs,
        )
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    finally:
        module.mixed_precision.set_global_policy("float32")
    return model


def test_mixed_float16_compile_wraps_the_optimizer():
    inner = optimizers.Adam(0.01)
    model = _fit(lamina, optimizer=inner)
    wrapper = model.optimizer
    assert isinstance(wrapper, optimizers.LossScaleOptimizer)
    assert wrapper.inner_optimizer is inner and wrapper.name == "loss_scale_optimizer"
    assert model._loss_scale is None  # no second scaling in the train step
    # The compile config keeps the optimizer given, as Keras's does.
    config = model.get_compile_config()
    assert config["optimizer"]["class_name"] == "Adam"
    assert float(wrapper.dynamic_scale) > 1 and int(wrapper.iterations) > 0


def test_mixed_float16_trajectory_and_state_match_keras():
    keras = pytest.importorskip("keras")
    ours, theirs = _fit(lamina), _fit(keras)
    assert type(theirs.optimizer).__name__ == "LossScaleOptimizer"
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, atol=2e-5)
    got = [(v.path, float(np.asarray(v))) for v in ours.optimizer.variables[:6]]
    want = [(v.path, float(np.asarray(v))) for v in theirs.optimizer.variables[:6]]
    assert [p for p, _ in got] == [p for p, _ in want]
    # Skipped steps and the scale: the same loss-scaling history as Keras.
    np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-6)


def test_no_wrap_when_not_asked_or_already_wrapped():
    given = optimizers.LossScaleOptimizer(optimizers.SGD(0.01))
    assert _fit(lamina, optimizer=given).optimizer is given
    plain = _fit(lamina, optimizer=optimizers.SGD(0.01), auto_scale_loss=False)
    assert isinstance(plain.optimizer, optimizers.SGD)
    assert plain._loss_scale is None
    # "float16" (not mixed) is not wrapped, as in Keras; fit scales its loss.
    half = _fit(lamina, policy="float16", optimizer=optimizers.SGD(0.01))
    assert isinstance(half.optimizer, optimizers.SGD)
    assert half._loss_scale is not None


def test_wrapped_optimizer_state_survives_save_and_load(tmp_path):
    model = _fit(lamina)
    path = str(tmp_path / "model.keras")
    model.save(path)
    lamina.mixed_precision.set_global_policy("mixed_float16")
    restored = lamina.saving.load_model(path)
    assert isinstance(restored.optimizer, optimizers.LossScaleOptimizer)
    want = [np.asarray(v) for v in model.optimizer.variables]
    got = [np.asarray(v) for v in restored.optimizer.variables]
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b)
