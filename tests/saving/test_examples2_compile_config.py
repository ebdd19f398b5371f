"""An uncompiled model's compile config is `{}`, as in Keras 3.15 (parity gap)."""

import json
import os
import zipfile

import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _model(k):
    return k.Sequential([k.Input((3,)), k.layers.Dense(2)])


def test_uncompiled_model_gives_an_empty_compile_config(tmp_path):
    model = _model(lamina)
    assert model.get_compile_config() == {}
    assert lamina.saving.serialize_keras_object(model)["compile_config"] == {}
    assert json.loads(model.to_json())["compile_config"] == {}
    path = tmp_path / "m.keras"
    model.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert config["compile_config"] == {}
    assert lamina.models.load_model(path).compiled is False


def test_compiled_model_still_records_its_compile_arguments():
    model = _model(lamina)
    model.compile(optimizer="adam", loss="mse")
    config = model.get_compile_config()
    assert config["loss"] == "mse" and config["optimizer"]["class_name"] == "Adam"


def test_matches_keras_and_files_load_both_ways(tmp_path):
    keras = pytest.importorskip("keras")
    theirs = _model(keras)
    assert theirs.get_compile_config() == _model(lamina).get_compile_config()
    ours_path, theirs_path = tmp_path / "ours.keras", tmp_path / "theirs.keras"
    _model(lamina).save(ours_path)
    theirs.save(theirs_path)
    assert keras.models.load_model(ours_path).compiled is False
    loaded = lamina.models.load_model(theirs_path)
    assert loaded.compiled is False and isinstance(loaded.layers[0], layers.Dense)
