"""Callbacks as Keras runs them: the progress bar lists a step's logs by
sorted name, and BackupAndRestore counts the epochs done at an epoch's end."""

import os
import re

import numpy as np
import pytest

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

X = np.ones((16, 4), "float32")
Y = np.ones((16, 1), "float32")


def _unsorted_step_model(lib):
    class Custom(lib.Model):
        def train_step(self, data):
            x, y = data
            out = self(x)
            mean = lib.ops.mean(out)
            return {"zeta": mean, "alpha": mean * 2, "mid": {"k2": mean, "k1": mean}}

    inp = lib.Input((4,))
    model = Custom(inp, lib.layers.Dense(1)(inp))
    model.compile("sgd", "mse")
    return model


def _bar_names(text):
    last = text.replace("\r", "\n").strip().splitlines()[-1]
    return re.findall(r" - (\w+):", last)


def test_progress_bar_lists_a_custom_steps_logs_sorted_as_keras(capsys):
    names = []
    for lib in (lamina, keras):
        model = _unsorted_step_model(lib)
        capsys.readouterr()
        model.fit(X, Y, batch_size=16, epochs=1, verbose=1)
        names.append(_bar_names(capsys.readouterr().out))
    assert names[0] == names[1] == ["alpha", "k1", "k2", "zeta"]


def test_backup_and_restore_counts_epochs_done(tmp_path):
    class Stop(lamina.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("interrupted")

    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(1)])
    model.compile("sgd", "mse")
    backup = lamina.callbacks.BackupAndRestore(str(tmp_path / "b"))
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(X, Y, epochs=5, verbose=0, callbacks=[backup, Stop()])
    # Keras's count: two epochs ended (the second one's end was interrupted
    # after the backup was written).
    assert backup._current_epoch == 2
    history = model.fit(X, Y, epochs=5, verbose=0, callbacks=[backup])
    assert history.epoch == [2, 3, 4]
    assert backup._current_epoch == 5
