import os

import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.callbacks.model_checkpoint import ModelCheckpoint

HAS_SAVING = hasattr(lamina.Model, "save_weights") and hasattr(lamina.Model, "save")
needs_saving = pytest.mark.skipif(
    not HAS_SAVING, reason="model.save / model.save_weights are not implemented yet"
)


class RecordingModel(lamina.Sequential):
    """Records the save calls instead of writing real files (writes a marker)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.saves = []

    def save_weights(self, filepath, overwrite=True):
        self.saves.append(("weights", filepath, overwrite))
        with open(filepath, "w") as f:
            f.write("weights")

    def save(self, filepath, overwrite=True, **kwargs):
        self.saves.append(("model", filepath, overwrite))
        with open(filepath, "w") as f:
            f.write("model")


def recording_model(metrics=None):
    model = RecordingModel([lamina.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse", metrics=metrics)
    return model


class Scripted(lamina.callbacks.Callback):
    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def fit(model, epochs, callbacks, samples=4, batch_size=2, **kwargs):
    x = np.ones((samples, 2), "float32")
    y = np.ones((samples, 1), "float32")
    return model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=callbacks,
        **kwargs,
    )


def names(model):
    return [os.path.basename(path) for _, path, _ in model.saves]


def test_saves_every_epoch_with_one_based_epoch_in_the_name(tmp_path):
    model = recording_model()
    path = str(tmp_path / "w.{epoch:02d}.weights.h5")
    fit(model, 3, [ModelCheckpoint(path, save_weights_only=True)])
    assert names(model) == ["w.01.weights.h5", "w.02.weights.h5", "w.03.weights.h5"]
    assert all(kind == "weights" and overwrite for kind, _, overwrite in model.saves)
    assert sorted(os.listdir(tmp_path)) == names(model)


def test_whole_model_is_saved_with_save(tmp_path):
    model = recording_model()
    fit(model, 1, [ModelCheckpoint(str(tmp_path / "m.keras"))])
    assert model.saves == [("model", str(tmp_path / "m.keras"), True)]


def test_save_best_only_saves_only_improvements(tmp_path):
    model = recording_model()
    path = str(tmp_path / "best.{epoch}-{val_loss:.2f}.weights.h5")
    check = ModelCheckpoint(path, save_best_only=True, save_weights_only=True)
    values = [0.5, 0.7, 0.3, 0.3, 0.25]
    fit(model, 5, [Scripted("val_loss", values), check])
    assert names(model) == [
        "best.1-0.50.weights.h5",
        "best.3-0.30.weights.h5",
        "best.5-0.25.weights.h5",
    ]
    assert check.best == 0.25


def test_save_best_only_max_mode_from_the_accuracy_metric(tmp_path):
    model = recording_model(metrics=["accuracy"])
    check = ModelCheckpoint(
        str(tmp_path / "{epoch}.keras"), monitor="val_accuracy", save_best_only=True
    )
    fit(model, 4, [Scripted("val_accuracy", [0.5, 0.4, 0.6, 0.6]), check])
    assert names(model) == ["1.keras", "3.keras"]


def test_initial_value_threshold_must_be_beaten_first(tmp_path):
    model = recording_model()
    check = ModelCheckpoint(
        str(tmp_path / "{epoch}.keras"),
        save_best_only=True,
        initial_value_threshold=0.4,
    )
    fit(model, 4, [Scripted("val_loss", [0.5, 0.45, 0.35, 0.38]), check])
    assert names(model) == ["3.keras"]


def test_save_best_only_keeps_its_best_across_fit_calls(tmp_path):
    model = recording_model()
    check = ModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True)
    fit(model, 2, [Scripted("val_loss", [0.5, 0.6]), check])
    fit(model, 2, [Scripted("val_loss", [0.55, 0.4]), check])
    assert len(model.saves) == 2 and check.best == 0.4


def test_integer_save_freq_counts_batches_across_epochs(tmp_path):
    model = recording_model()
    path = str(tmp_path / "e{epoch}-b{batch}.keras")
    # 3 batches per epoch, save every 2 batches over 3 epochs (9 batches)
    fit(model, 3, [ModelCheckpoint(path, save_freq=2)], samples=6)
    assert names(model) == ["e1-b2.keras", "e2-b1.keras", "e2-b3.keras", "e3-b2.keras"]


def test_batch_level_best_only_reads_the_running_batch_loss(tmp_path):
    model = recording_model()
    check = ModelCheckpoint(
        str(tmp_path / "b{batch}-{loss:.3f}.keras"),
        monitor="loss",
        save_best_only=True,
        save_freq=1,
    )
    fit(model, 1, [check], samples=4, batch_size=1)
    assert 1 <= len(model.saves) <= 4
    assert isinstance(check.best, float)
    assert names(model)[0].startswith("b1-")


def test_missing_monitor_under_save_best_only_warns_and_saves(tmp_path):
    model = recording_model()
    check = ModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True)
    with pytest.warns(UserWarning, match="Can save best model only with val_loss"):
        fit(model, 1, [check])
    assert len(model.saves) == 1


def test_verbose_messages(tmp_path, capsys):
    model = recording_model()
    check = ModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True, verbose=1)
    fit(model, 2, [Scripted("val_loss", [0.5, 0.6]), check])
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from None to 0.50000, saving model to" in out
    assert "Epoch 2: val_loss did not improve from 0.50000" in out


# --- bad input -----------------------------------------------------------------


def test_weights_only_needs_weights_h5_extension():
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        ModelCheckpoint("w.h5", save_weights_only=True)


def test_whole_model_needs_keras_extension():
    with pytest.raises(ValueError, match="must end in `.keras`"):
        ModelCheckpoint("model.weights.h5")


@pytest.mark.parametrize("freq", ["batch", 1.5, True, None])
def test_bad_save_freq(freq):
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        ModelCheckpoint("m.keras", save_freq=freq)


def test_positional_template_field_is_rejected_at_construction():
    with pytest.raises(ValueError, match="positional field"):
        ModelCheckpoint("m-{}.keras")


def test_unknown_template_key_names_the_available_fields(tmp_path):
    model = recording_model()
    check = ModelCheckpoint(str(tmp_path / "m-{val_los:.2f}.keras"))
    with pytest.raises(
        KeyError, match="no value named .*val_los.*Fields can be epoch, loss"
    ):
        fit(model, 1, [check])


def test_unwritable_directory_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    model = recording_model()
    steps = []
    lamb = lamina.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: steps.append(batch)
    )
    check = ModelCheckpoint(str(blocker / "ckpt" / "{epoch}.keras"))
    with pytest.raises(PermissionError, match="cannot create the directory"):
        fit(model, 1, [check, lamb])
    assert steps == []


def test_existing_directory_as_filepath_fails_before_training(tmp_path):
    (tmp_path / "m.keras").mkdir()
    with pytest.raises(IsADirectoryError, match="non-directory filepath"):
        fit(recording_model(), 1, [ModelCheckpoint(str(tmp_path / "m.keras"))])


def test_only_the_chief_process_saves(tmp_path, monkeypatch):
    model = recording_model()
    check = ModelCheckpoint(str(tmp_path / "m.keras"))
    monkeypatch.setattr(check, "_should_write", lambda: False)
    fit(model, 2, [check])
    assert model.saves == []


# --- real files (need model.save / save_weights from the saving issue) ----------


@needs_saving
def test_real_weights_files_load_back(tmp_path):
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(3), layers.Dense(1)])
    model.compile("adam", "mse")
    path = str(tmp_path / "w.{epoch:02d}.weights.h5")
    fit(model, 2, [ModelCheckpoint(path, save_weights_only=True)])
    assert sorted(os.listdir(tmp_path)) == ["w.01.weights.h5", "w.02.weights.h5"]
    fresh = lamina.Sequential([lamina.Input((2,)), layers.Dense(3), layers.Dense(1)])
    fresh.load_weights(str(tmp_path / "w.02.weights.h5"))
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@needs_saving
def test_real_keras_file_best_only(tmp_path):
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(1)])
    model.compile("adam", "mse")
    check = ModelCheckpoint(str(tmp_path / "best.keras"), save_best_only=True)
    x = np.random.rand(8, 2).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0, callbacks=[check])
    assert os.listdir(tmp_path) == ["best.keras"]
    loaded = lamina.saving.load_model(str(tmp_path / "best.keras"))
    assert [w.shape for w in loaded.get_weights()] == [(2, 1), (1,)]
