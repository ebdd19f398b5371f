"""What KerasTuner 1.4.8 relies on, in plain lamina (no keras_tuner import).

KerasTuner binds `keras` to the installed Keras 3: it checks `keras.version()`,
star-imports `keras`, clears the session before each trial, deep-copies the
search callbacks per trial, writes `checkpoint.weights.h5` and
`build_config.json` per trial and rebuilds the best model from them, and
Hyperband resumes a trial with `fit(initial_epoch=k)` after `load_weights`.
"""

import json

import numpy as np
import pytest

import lamina as keras


def _data(n=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    return x, y


def _build(lr=0.05):
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(1)
    model.set_weights(
        [
            rng.normal(scale=0.3, size=w.shape).astype("float32")
            for w in model.get_weights()
        ]
    )
    return model


def test_multi_backend_surface():
    # keras_tuner.backend.config: multi-backend iff keras.version() starts with "3."
    assert keras.version().startswith("3.")
    assert keras.config.backend() == "torch"
    for name in (
        "layers",
        "models",
        "optimizers",
        "callbacks",
        "utils",
        "saving",
        "Sequential",
        "Model",
        "Input",
    ):
        assert name in keras.__all__
    keras.backend.clear_session()  # called before every trial's build


def test_initial_epoch_resume_history_and_callbacks():
    x, y = _data()
    model = _build()
    seen = []
    cb = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(epoch)
    )
    history = model.fit(
        x,
        y,
        epochs=3,
        initial_epoch=1,
        batch_size=16,
        shuffle=False,
        verbose=0,
        validation_data=(x, y),
        callbacks=[cb],
    )
    assert seen == [1, 2]
    assert history.epoch == [1, 2]
    assert len(history.history["val_loss"]) == 2


def test_trial_checkpoint_round_trip(tmp_path):
    x, y = _data()
    model = _build()
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    ckpt = str(tmp_path / "checkpoint.weights.h5")
    model.save_weights(ckpt)
    (tmp_path / "build_config.json").write_text(json.dumps(model.get_build_config()))
    assert json.loads((tmp_path / "build_config.json").read_text()) == {
        "input_shape": [None, 4]
    }

    import h5py

    with h5py.File(ckpt, "r") as f:
        assert f["layers/dense/vars/0"].shape == (4, 3)
        assert f["layers/dense_1/vars/1"].shape == (1,)
        assert (
            len(f["optimizer/vars"]) == 2 + 2 * 4
        )  # iterations, learning_rate, m and v per weight

    fresh = _build()
    fresh.build_from_config(json.loads((tmp_path / "build_config.json").read_text()))
    fresh.load_weights(ckpt)
    np.testing.assert_allclose(
        fresh.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6
    )
    # Deliberate (docs/differences.md): the unbuilt optimizer is built and its state restored,
    # so a Hyperband round resumes Adam where it stopped (Keras 3.15.1 skips it with a warning).
    assert fresh.optimizer.built
    assert int(np.asarray(fresh.optimizer.iterations)) == 2
    for a, b in zip(fresh.optimizer.variables, model.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b))


def test_subclassed_child_left_unbuilt_raises_on_load(tmp_path):
    # Keras 3.15.1 leaves such a child unloaded without a word (the "best model" then has
    # fresh weights); lamina says so.
    class MyModel(keras.Model):
        def build(self, _):
            self.head = keras.layers.Dense(2)

        def call(self, x):
            return self.head(x)

    x, _ = _data(4)
    model = MyModel()
    model.compile("adam", "mse")
    model.fit(x, np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    ckpt = str(tmp_path / "m.weights.h5")
    model.save_weights(ckpt)
    fresh = MyModel()
    fresh.build_from_config(model.get_build_config())
    with pytest.raises(ValueError, match="not built"):
        fresh.load_weights(ckpt)


def test_compile_override_serialized_optimizer_and_metric_names():
    # Tuner(optimizer=obj, loss=..., metrics=[...]) recompiles each model with
    # deserialize(serialize(obj)); the objective names "val_" + metric name.
    opt = keras.optimizers.Adam(0.01)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(clone) is type(opt) and clone is not opt
    assert float(clone.learning_rate) == pytest.approx(0.01)
    x, y = _data()
    model = _build()
    model.compile(optimizer=clone, loss="mse", metrics=["mse", "accuracy"])
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert {"loss", "mse", "accuracy", "val_loss", "val_mse", "val_accuracy"} <= set(
        history.history
    )
    assert model.loss == "mse"
