"""A failed or killed save never leaves a torn file: the previous one survives."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.saving import file_utils, weights_file


def _model(seed):
    lamina.backend.clear_session()
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(4), layers.Dense(2)])
    model.set_weights([np.full(w.shape, seed, "float32") for w in model.get_weights()])
    return model


def _fail_halfway(monkeypatch):
    calls = {"n": 0}
    real_make = weights_file.H5Writer.make

    def make(self, path, metadata=None):
        calls["n"] += 1
        if calls["n"] == 3:  # after the first layer's variables are written
            raise OSError("disk full (injected)")
        return real_make(self, path, metadata)

    monkeypatch.setattr(weights_file.H5Writer, "make", make)


@pytest.mark.parametrize(
    "name, save",
    [
        ("m.keras", lambda model, path: model.save(path)),
        ("m.weights.h5", lambda model, path: model.save_weights(path)),
    ],
)
def test_failure_mid_write_keeps_the_previous_file(tmp_path, monkeypatch, name, save):
    path = tmp_path / name
    save(_model(1.0), path)
    before = path.read_bytes()
    _fail_halfway(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        save(_model(2.0), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [name]  # no temporary left behind
    monkeypatch.undo()
    loaded = _model(0.0)
    loaded.load_weights(path)
    assert all((w == 1.0).all() for w in loaded.get_weights())


def test_atomic_write_replaces_in_one_step_with_normal_permissions(tmp_path):
    path = tmp_path / "f.bin"
    with file_utils.atomic_write(path) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path) and not path.exists()
        with open(tmp, "wb") as f:
            f.write(b"new")
    assert path.read_bytes() == b"new"
    assert (path.stat().st_mode & 0o777) == file_utils._default_file_mode()


def test_atomic_write_needs_an_existing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with file_utils.atomic_write(tmp_path / "nope" / "f.bin"):
            pass


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX-only")
def test_a_process_killed_while_saving_leaves_a_loadable_file(tmp_path):
    path = tmp_path / "ckpt.keras"
    script = textwrap.dedent(
        f"""
        import numpy as np, lamina
        model = lamina.Sequential([lamina.Input((64,)), lamina.layers.Dense(256),
                                   lamina.layers.Dense(64)])
        model.save({str(path)!r})
        print("ready", flush=True)
        step = 0
        while True:
            step += 1
            model.set_weights([np.full(w.shape, step, "float32")
                               for w in model.get_weights()])
            model.save({str(path)!r})
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=os.getcwd()
    )
    try:
        assert process.stdout.readline().strip() == b"ready"
        time.sleep(0.2)  # many saves are in flight by now
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    model = lamina.saving.load_model(path)
    values = {float(w.flat[0]) for w in model.get_weights()}
    assert len(values) == 1  # one consistent save, never a mix of two
