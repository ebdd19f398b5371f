import builtins

import h5py
import numpy as np
import pytest

import lamina
from lamina import layers


def _model(seed):
    lamina.utils.set_random_seed(seed)
    model = lamina.Sequential(
        [
            lamina.Input((4,)),
            layers.Dense(5, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(2),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


X = np.random.default_rng(0).random((8, 4), dtype=np.float32)
Y = np.random.default_rng(1).random((8, 2), dtype=np.float32)


def test_round_trip_restores_weights_and_optimizer_state(tmp_path):
    safetensors = pytest.importorskip("safetensors", reason="optional extra")
    del safetensors
    model = _model(0)
    model.fit(X, Y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    path = tmp_path / "m.safetensors"
    model.save_weights(path)
    other = _model(1)
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.fit(X, Y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    other.fit(X, Y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_tensor_names_are_the_weights_h5_paths(tmp_path):
    pytest.importorskip("safetensors", reason="optional extra")
    from safetensors.numpy import load_file

    model = _model(0)
    model.fit(X, Y, epochs=1, batch_size=4, verbose=0)
    model.save_weights(tmp_path / "m.safetensors")
    model.save_weights(tmp_path / "m.weights.h5")
    tensors = load_file(tmp_path / "m.safetensors")
    h5_paths = {}
    with h5py.File(tmp_path / "m.weights.h5", "r") as f:
        f.visititems(
            lambda name, obj: (
                h5_paths.update({name: np.asarray(obj)})
                if isinstance(obj, h5py.Dataset)
                else None
            )
        )
    assert "layers/dense/vars/0" in tensors
    assert set(tensors) == set(h5_paths)
    for name, value in tensors.items():
        np.testing.assert_array_equal(value, h5_paths[name])


def test_mismatched_file_names_the_layer_and_skip_mismatch_warns(tmp_path):
    pytest.importorskip("safetensors", reason="optional extra")
    path = tmp_path / "m.safetensors"
    _model(0).save_weights(path)
    wider = lamina.Sequential(
        [
            lamina.Input((4,)),
            layers.Dense(6),
            layers.BatchNormalization(),
            layers.Dense(2),
        ]
    )
    with pytest.raises(ValueError, match="layers/dense.*shape"):
        wider.load_weights(path)
    with pytest.warns(UserWarning, match="skip_mismatch=True"):
        wider.load_weights(path, skip_mismatch=True)


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    pytest.importorskip("safetensors", reason="optional extra")
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(ValueError, match="junk.safetensors.*not a safetensors"):
        _model(0).load_weights(path)


def test_without_the_package_the_error_says_what_to_install(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("safetensors"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r'pip install "lamina\[safetensors\]"'):
        _model(0).save_weights(tmp_path / "m.safetensors")
