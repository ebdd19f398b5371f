import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.callbacks.backup_and_restore import BackupAndRestore

EPOCHS = 4


class Interrupt(Exception):
    pass


class InterruptAt(lamina.callbacks.Callback):
    """Raises after training batch `step` (global, 0-based) has run."""

    def __init__(self, step):
        super().__init__()
        self.step, self.seen = step, -1

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            raise Interrupt()


def make_model():
    """Dropout (RNG), Adam (state), shuffling (data order): all must resume."""
    model = lamina.Sequential(
        [
            lamina.Input((3,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.2, seed=7),
            layers.Dense(1),
        ]
    )
    model.compile(lamina.optimizers.Adam(0.01), "mse", metrics=["mae"])
    return model


def data():
    rng = np.random.default_rng(0)
    x = rng.random((20, 3), dtype=np.float32)
    return x, x.sum(axis=1, keepdims=True)


def train(callbacks, epochs=EPOCHS):
    """A fresh 'process': same seed, same model, same fit call."""
    lamina.utils.set_random_seed(0)
    model = make_model()
    x, y = data()
    history = model.fit(
        x, y, batch_size=4, epochs=epochs, verbose=0, callbacks=callbacks
    )
    return model, history


def assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


@pytest.fixture
def reference():
    return train([])


def test_resumes_at_the_next_epoch_with_identical_weights(tmp_path, reference):
    backup = str(tmp_path / "backup")
    with pytest.raises(Interrupt):
        train([BackupAndRestore(backup), InterruptAt(12)])  # during epoch 2
    assert os.listdir(backup) == ["backup.h5"]
    model, history = train([BackupAndRestore(backup)])
    assert history.epoch == [2, 3]  # epochs 0 and 1 were backed up
    assert_same_weights(model, reference[0])
    assert int(model.optimizer.iterations) == int(reference[0].optimizer.iterations)
    np.testing.assert_array_equal(
        history.history["loss"], reference[1].history["loss"][2:]
    )
    assert not os.path.exists(backup)  # deleted when fit finished


def test_resumes_mid_epoch_from_a_batch_backup(tmp_path, reference):
    backup = str(tmp_path / "backup")
    with pytest.raises(Interrupt):
        # 5 batches per epoch, a backup every 3 batches: after global batches
        # 2, 5, 8, 11 (0-based); interrupted after 13. The last backup is at the
        # end of epoch 2's batch 1.
        train([BackupAndRestore(backup, save_freq=3), InterruptAt(13)])
    steps = []
    count = lamina.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: steps.append(batch)
    )
    model, history = train([BackupAndRestore(backup, save_freq=3), count])
    assert history.epoch == [2, 3]
    assert steps[:4] == [2, 3, 4, 0]  # resumed at batch 2 of epoch 2
    assert_same_weights(model, reference[0])
    # the resumed epoch's loss covers the whole epoch (running state restored)
    np.testing.assert_allclose(
        history.history["loss"], reference[1].history["loss"][2:], rtol=1e-6
    )


def test_backup_in_the_last_batch_of_an_epoch_resumes_at_its_end(tmp_path, reference):
    backup = str(tmp_path / "backup")
    with pytest.raises(Interrupt):
        train([BackupAndRestore(backup, save_freq=5), InterruptAt(5)])
    steps = []
    count = lamina.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: steps.append(batch)
    )
    model, history = train([BackupAndRestore(backup, save_freq=5), count])
    # epoch 0 had all its batches: only its end (logs, callbacks) runs again
    assert history.epoch == [0, 1, 2, 3] and len(steps) == 15
    assert_same_weights(model, reference[0])
    np.testing.assert_allclose(history.history["loss"], reference[1].history["loss"])


def test_completed_run_leaves_no_backup_unless_asked(tmp_path):
    keep = tmp_path / "keep"
    train([BackupAndRestore(str(keep), delete_checkpoint=False)], epochs=1)
    assert os.listdir(keep) == ["backup.h5"]
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "mine.txt").write_text("user file")
    train([BackupAndRestore(str(drop))], epochs=1)
    assert os.listdir(drop) == ["mine.txt"]  # only the callback's own files go


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path, reference):
    backup = tmp_path / "backup"
    with pytest.raises(Interrupt):
        train([BackupAndRestore(str(backup), double_checkpoint=True), InterruptAt(12)])
    assert sorted(os.listdir(backup)) == ["backup.h5", "backup.h5.bkp"]
    (backup / "backup.h5").write_bytes(b"torn file")
    model, history = train([BackupAndRestore(str(backup), double_checkpoint=True)])
    assert history.epoch == [1, 2, 3]  # the previous backup ended epoch 0
    assert_same_weights(model, reference[0])


def test_backup_needs_a_built_model(tmp_path):
    backup = str(tmp_path / "backup")
    train([BackupAndRestore(backup, delete_checkpoint=False)], epochs=1)
    model = lamina.Sequential([layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="must be built before you call `fit\\(\\)`"):
        model.fit(
            np.ones((2, 3)),
            np.ones((2, 1)),
            verbose=0,
            callbacks=[BackupAndRestore(backup)],
        )


def test_a_different_model_gives_a_clear_error(tmp_path):
    backup = str(tmp_path / "backup")
    train([BackupAndRestore(backup, delete_checkpoint=False)], epochs=1)
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="backup has 6 tensors but the model has 2"):
        model.fit(
            np.ones((2, 3)),
            np.ones((2, 1)),
            verbose=0,
            callbacks=[BackupAndRestore(backup)],
        )


@pytest.mark.parametrize("freq", ["batch", 0, -2, 1.5, True])
def test_bad_save_freq(freq):
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore("dir", save_freq=freq)


def test_empty_backup_dir():
    with pytest.raises(ValueError, match="backup_dir"):
        BackupAndRestore("")


# --- a real kill -9 in the middle of an epoch ------------------------------------

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import lamina
    from lamina import layers

    backup_dir, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lamina.utils.set_random_seed(0)
    model = lamina.Sequential([
        lamina.Input((3,)),
        layers.Dense(8, activation="relu"),
        layers.Dropout(0.3),
        layers.Dense(1),
    ])
    model.compile(lamina.optimizers.Adam(0.01), "mse")
    rng = np.random.default_rng(0)
    x = rng.random((24, 3), dtype=np.float32)
    y = x.sum(axis=1, keepdims=True)

    class Kill(lamina.callbacks.Callback):
        seen = 0
        def on_train_batch_end(self, batch, logs=None):
            Kill.seen += 1
            if Kill.seen == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    callbacks = [lamina.callbacks.BackupAndRestore(backup_dir, save_freq=4)]
    if kill_at:
        callbacks.append(Kill())
    model.fit(x, y, batch_size=4, epochs=3, shuffle=True, verbose=0,
              callbacks=callbacks)
    np.savez(out, *model.get_weights())
    """
)


def test_sigkill_mid_epoch_then_rerun_gives_bit_identical_weights(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}

    def run(backup, out, kill_at):
        return subprocess.run(
            [sys.executable, str(script), str(backup), str(out), str(kill_at)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    # The uninterrupted reference runs the same script in this process.
    argv = sys.argv
    try:
        sys.argv = [
            "train.py",
            str(tmp_path / "ref_backup"),
            str(tmp_path / "ref.npz"),
            "0",
        ]
        exec(compile(SCRIPT, "train.py", "exec"), {"__name__": "__main__"})
    finally:
        sys.argv = argv
    # 6 batches per epoch, backups every 4 batches; killed after global batch
    # 10 (epoch 1, batch 3): the last backup holds batch 8 (epoch 1, batch 1).
    killed = run(tmp_path / "backup", tmp_path / "unused.npz", 10)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert os.listdir(tmp_path / "backup") == ["backup.h5"]
    resumed = run(tmp_path / "backup", tmp_path / "resumed.npz", 0)
    assert resumed.returncode == 0, resumed.stderr
    with np.load(tmp_path / "ref.npz") as a, np.load(tmp_path / "resumed.npz") as b:
        assert len(a.files) == 4
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    assert not (tmp_path / "backup").exists()
