"""Saving and serialization behaving as Keras 3's own unit tests expect."""

import os

import h5py
import numpy as np
import pytest
import torch

import lamina
from lamina import layers, saving
from lamina.saving import serialization_lib

os.environ.setdefault("KERAS_BACKEND", "torch")


def _model():
    return lamina.Sequential([layers.Input((3,)), layers.Dense(5), layers.Dense(5)])


def test_save_weights_objects_to_skip_leaves_them_out_of_the_file(tmp_path):
    model = _model()
    path = str(tmp_path / "m.weights.h5")
    saving.save_weights(model, path, objects_to_skip=[model.layers[0]])
    with h5py.File(path) as f:
        saved_layers = sorted(f["layers"])
    assert saved_layers == [model.layers[1].name]
    other = _model()
    before = other.layers[0].get_weights()[0].copy()
    other.load_weights(path, objects_to_skip=[other.layers[0]])
    np.testing.assert_array_equal(other.layers[0].get_weights()[0], before)
    np.testing.assert_array_equal(
        other.layers[1].get_weights()[0], model.layers[1].get_weights()[0]
    )


def test_save_weights_rejects_unknown_keyword_arguments(tmp_path):
    with pytest.raises(TypeError, match="objects_to_skip"):
        saving.save_weights(_model(), str(tmp_path / "m.weights.h5"), skip=[1])


def test_missing_files_raise_an_error_both_keras_and_python_code_catch(tmp_path):
    for load in (
        lambda: saving.load_model(str(tmp_path / "nope.keras")),
        lambda: _model().load_weights(str(tmp_path / "nope.weights.h5")),
    ):
        with pytest.raises(ValueError):
            load()
        with pytest.raises(FileNotFoundError):
            load()


def test_load_weights_checks_the_format_before_the_file():
    with pytest.raises(ValueError, match="File format not supported"):
        _model().load_weights("weights.pkl")


@pytest.mark.parametrize(
    "save, phrase",
    [
        (lambda m, d: m.save(os.path.join(d, "m.png")), "Invalid filepath extension"),
        (
            lambda m, d: saving.save_model(m, os.path.join(d, "m.keras"), foo=1),
            r"The following argument\(s\) are not supported",
        ),
        (
            lambda m, d: saving.save_model(m, os.path.join(d, "m.txt"), save_format=1),
            "The `save_format` argument is deprecated",
        ),
        (
            lambda m, d: m.save(os.path.join(d, "m.keras"), zipped=False),
            "should not end in",
        ),
    ],
)
def test_bad_save_arguments_raise_value_errors_with_keras_phrases(
    tmp_path, save, phrase
):
    with pytest.raises(ValueError, match=phrase):
        save(_model(), str(tmp_path))


def test_load_model_names_an_unsupported_format():
    with pytest.raises(ValueError, match="File format not supported"):
        saving.load_model("model.pkl")


def test_tensors_inside_plain_dicts_deserialize():
    x = torch.arange(4, dtype=torch.float64).reshape(2, 2)
    config = serialization_lib.serialize_keras_object({"x": x, "n": {"y": [x]}})
    restored = serialization_lib.deserialize_keras_object(config)
    # Restored on lamina's device, as Keras's convert_to_tensor places them.
    assert torch.equal(restored["x"].cpu(), x)
    assert torch.equal(restored["n"]["y"][0].cpu(), x)


def test_plain_strings_in_plain_dicts_stay_strings():
    config = {"a": "relu", "b": ["mse", 1], "c": None}
    assert serialization_lib.deserialize_keras_object(config) == config


def test_a_function_saved_by_its_bare_name_finds_its_registration():
    @saving.register_keras_serializable(package="suite8d")
    def suite8d_squared(x):
        return x**2

    try:
        config = {
            "module": "builtins",
            "class_name": "function",
            "config": "suite8d_squared",
            "registered_name": "function",
        }
        assert serialization_lib.deserialize_keras_object(config) is suite8d_squared
    finally:
        saving.get_custom_objects().pop("suite8d>suite8d_squared", None)
