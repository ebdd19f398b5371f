"""Callbacks as KerasTuner uses them: deep-copied per trial, TensorBoard's
`log_dir` re-pointed at each trial's folder after construction."""

import copy

import numpy as np

import lamina as keras


def _fit(callbacks, epochs=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=8,
        verbose=0,
        validation_data=(x, y),
        callbacks=callbacks,
    )


def test_tensorboard_log_dir_set_after_construction(tmp_path):
    # Keras derives <log_dir>/train and /validation when the callback is attached.
    tb = keras.callbacks.TensorBoard(str(tmp_path / "first"))
    tb.log_dir = str(tmp_path / "second")
    _fit([tb], epochs=1)
    assert (tmp_path / "second" / "train").is_dir()
    assert (tmp_path / "second" / "validation").is_dir()
    assert not (tmp_path / "first").exists()


def test_callbacks_deepcopied_per_trial(tmp_path):
    callbacks = [
        keras.callbacks.EarlyStopping("val_loss", patience=0),
        keras.callbacks.TensorBoard(str(tmp_path / "logs")),
    ]
    for trial in range(2):
        copied = copy.deepcopy(callbacks)
        copied[1].log_dir = str(tmp_path / "logs" / str(trial))
        history = _fit(copied, epochs=4)
        assert 1 <= len(history.epoch) <= 4
        assert sorted(p.name for p in (tmp_path / "logs" / str(trial)).iterdir()) == [
            "train",
            "validation",
        ]
    assert callbacks[0].model is None  # the originals stay untouched
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["0", "1"]
