"""Saving details from Keras 3.15.1's own saving tests (session 12)."""

import json
import os
import warnings

import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.saving import serialization_lib


class _Stack(layers.Layer):
    """Keras legacy_h5_format_test's MyLayer: sublayers passed as a list."""

    def __init__(self, sublayers, **kwargs):
        super().__init__(**kwargs)
        self.sublayers = sublayers

    def call(self, x):
        for layer in self.sublayers:
            x = layer(x)
        return x

    def get_config(self):
        config = super().get_config()
        config["sublayers"] = serialization_lib.serialize_keras_object(self.sublayers)
        return config

    @classmethod
    def from_config(cls, config):
        config["sublayers"] = serialization_lib.deserialize_keras_object(
            config["sublayers"]
        )
        return cls(**config)


def test_a_list_of_layers_attribute_serializes_as_a_list():
    stack = _Stack([layers.Dense(2, name="d1"), layers.Dense(3, name="d2")])
    config = serialization_lib.serialize_keras_object(stack.sublayers)
    assert isinstance(config, list)
    assert [c["config"]["name"] for c in config] == ["d1", "d2"]
    model = lamina.Sequential([lamina.Input((4,)), stack])
    rebuilt = lamina.models.model_from_json(
        model.to_json(), custom_objects={"_Stack": _Stack}
    )
    inner = rebuilt.layers[0].sublayers
    assert [(type(x).__name__, x.units) for x in inner] == [("Dense", 2), ("Dense", 3)]
    assert tuple(rebuilt(np.ones((1, 4), "float32")).shape) == (1, 3)


def test_a_dict_of_layers_attribute_serializes_as_a_dict():
    holder = layers.Layer()
    holder.parts = {"first": layers.Dense(2), "second": layers.Dense(3)}
    config = serialization_lib.serialize_keras_object(holder.parts)
    assert list(config) == ["first", "second"]
    assert config["second"]["config"]["units"] == 3


def _unbuilt_compiled(lib):
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2)])
    model.compile(
        optimizer=lib.optimizers.RMSprop(learning_rate=0.125),
        loss="mean_squared_error",
    )
    return model


def _load_quietly(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "could not restore" warning
        return lamina.saving.load_model(path)


def test_legacy_h5_of_a_never_trained_optimizer_loads_without_warning(tmp_path):
    # Keras writes the unbuilt optimizer's iteration and learning rate only;
    # reading them back must keep them, and build fresh slots, silently.
    path = os.fspath(tmp_path / "model.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy-format warning on save
        _unbuilt_compiled(lamina).save(path)
    loaded = _load_quietly(path)
    optimizer = loaded.optimizer
    assert optimizer.learning_rate == pytest.approx(0.125)
    assert int(optimizer.iterations) == 0
    assert len(optimizer.variables) == 4  # iteration, rate, two velocities
    loaded.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0)
    assert int(loaded.optimizer.iterations) == 1


def test_legacy_h5_written_by_keras_before_training(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    legacy = pytest.importorskip("keras.src.legacy.saving.legacy_h5_format")
    path = os.fspath(tmp_path / "keras_model.h5")
    legacy.save_model_to_hdf5(_unbuilt_compiled(keras), path)
    loaded = _load_quietly(path)
    assert loaded.optimizer.learning_rate == pytest.approx(0.125)
    assert int(loaded.optimizer.iterations) == 0
    json.dumps(loaded.get_config())  # plain config, as Keras's


def _write_store(store_cls, path):
    store = store_cls(path, mode="w")
    store.make("lora")["rank"] = 4
    store.make("lora/3")["kernel_a"] = np.arange(6, dtype="float32").reshape(2, 3)
    store.close()


def _read_store(store_cls, path):
    store = store_cls(path, mode="r")
    rank = int(np.asarray(store.get("lora")["rank"]))
    entry = store.get("lora/3")
    keys, kernel = list(entry.keys()), np.asarray(entry["kernel_a"])
    store.close()
    return rank, keys, kernel


def test_h5_io_store_round_trip_and_modes(tmp_path):
    from lamina.saving.saving_lib import H5IOStore

    path = tmp_path / "adapter.lora.h5"
    store = H5IOStore(path, mode="w")
    store.make("lora")["rank"] = 2
    assert not path.exists()  # written next to it, renamed on close()
    with pytest.raises(ValueError, match="`get` is only allowed in read mode"):
        store.get("lora")
    store.close()
    assert path.exists()
    _write_store(H5IOStore, path)
    rank, keys, kernel = _read_store(H5IOStore, path)
    assert (rank, keys) == (4, ["kernel_a"])
    np.testing.assert_array_equal(kernel, np.arange(6).reshape(2, 3))
    reader = H5IOStore(path, mode="r")
    with pytest.raises(ValueError, match="`make` is only allowed in write mode"):
        reader.make("x")
    with pytest.raises(ValueError, match="Setting a value is only allowed"):
        reader.get("lora")["rank"] = 3
    reader.close()
    with pytest.raises(ValueError, match="`mode` should be either 'w' or 'r'"):
        H5IOStore(path, mode="a")
    with pytest.raises(TypeError):
        H5IOStore(3, mode="w")


def test_h5_io_store_files_cross_with_keras(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("keras")
    from keras.src.saving import saving_lib as keras_saving_lib

    from lamina.saving.saving_lib import H5IOStore

    ours, theirs = tmp_path / "ours.h5", tmp_path / "theirs.h5"
    _write_store(H5IOStore, ours)
    _write_store(keras_saving_lib.H5IOStore, theirs)
    for path in (ours, theirs):
        for reader in (H5IOStore, keras_saving_lib.H5IOStore):
            rank, keys, kernel = _read_store(reader, path)
            assert (rank, keys) == (4, ["kernel_a"])
            np.testing.assert_array_equal(kernel, np.arange(6).reshape(2, 3))
