"""lamina.config (Keras 3's keras.config) and the top-level names."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina  # noqa: E402
from lamina import config, layers  # noqa: E402
from lamina.saving import serialization_lib  # noqa: E402

keras = pytest.importorskip("keras")


def test_config_has_keras_names_and_they_are_lamina_s_own_settings():
    assert set(config.__all__) == {n for n in dir(keras.config) if n[0] != "_"}
    assert config.floatx is lamina.backend.floatx
    assert config.set_dtype_policy is lamina.mixed_precision.set_global_policy
    assert config.backend() == "torch"
    config.set_backend("torch")
    with pytest.raises(ValueError, match="PyTorch only"):
        config.set_backend("jax")


def test_top_level_names_match_keras_except_what_lamina_leaves_out():
    left_out = {"export", "src"}
    ours = {n for n in dir(lamina) if n[0] != "_"}
    assert {n for n in dir(keras) if n[0] != "_"} - ours == left_out
    assert lamina.Loss is lamina.losses.Loss and lamina.Metric is lamina.metrics.Metric
    assert lamina.version() == "3.15.1"  # the Keras API it implements
    assert lamina.__version__ == "0.1.0"


def _fit_steps(**fit_kwargs):
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    steps = []
    model.fit(
        np.ones((40, 2), "float32"),
        np.ones((40, 1), "float32"),
        batch_size=4,
        verbose=0,
        callbacks=[
            lamina.callbacks.LambdaCallback(
                on_train_batch_end=lambda batch, logs: steps.append(batch)
            )
        ],
        **fit_kwargs,
    )
    return model.history.history["loss"], steps


def test_max_epochs_and_max_steps_per_epoch_cap_fit():
    try:
        config.set_max_epochs(2)
        config.set_max_steps_per_epoch(3)
        losses, steps = _fit_steps(epochs=5)
    finally:
        config.set_max_epochs(None)
        config.set_max_steps_per_epoch(None)
    assert len(losses) == 2 and steps == [0, 1, 2, 0, 1, 2]
    losses, steps = _fit_steps(epochs=2)
    assert len(losses) == 2 and len(steps) == 20
    with pytest.raises(ValueError, match="positive int"):
        config.set_max_epochs(0)


def test_enable_unsafe_deserialization_lets_loads_decode_lambdas(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization_lib, "_UNSAFE_GLOBALLY", [False])
    model = lamina.Sequential([lamina.Input((2,)), layers.Lambda(lambda t: t * 3.0)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match="safe_mode"):
        lamina.saving.load_model(path)
    config.enable_unsafe_deserialization()
    loaded = lamina.saving.load_model(path)
    x = np.ones((1, 2), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), x * 3.0)
    # An explicit scope still decides inside it.
    with serialization_lib.SafeModeScope(True):
        with pytest.raises(ValueError, match="safe_mode"):
            lamina.saving.load_model(path)


def test_device_scope_places_weights_and_restores_the_choice():
    before = lamina.backend.get_device()
    with lamina.device("meta"):
        layer = layers.Dense(2)
        layer.build((None, 3))
        assert lamina.backend.get_device().type == "meta"
    assert layer.kernel.device.type == "meta"
    assert lamina.backend.get_device() == before
    with pytest.raises(ValueError, match="device name"):
        with lamina.device("tpu-9000"):
            pass
