"""Checks shared by the layer test files ending in `_more`: configs equal to
Keras's, weights copied into Keras, and `.keras` round trips."""

import json

import numpy as np
import torch

import lamina
from lamina.saving import serialization_lib


def to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    import keras

    return keras.ops.convert_to_numpy(x)


def as_json(config):
    """A config as it reads after a trip through JSON (tuples become lists)."""
    return json.loads(json.dumps(serialization_lib.serialize_keras_object(config)))


def _without_layer_names(config):
    """`config` with the `name` of every layer config in it removed (automatic
    names count layers made so far, which differ between the libraries)."""
    if isinstance(config, list):
        return [_without_layer_names(c) for c in config]
    if not isinstance(config, dict):
        return config
    is_layer = "trainable" in config and "dtype" in config
    return {
        k: _without_layer_names(v)
        for k, v in config.items()
        if not (is_layer and k == "name")
    }


def assert_config_matches_keras(ours, theirs):
    """Same keys in the same order and the same values, layer names aside."""
    import keras

    a = _without_layer_names(as_json(ours.get_config()))
    b = json.loads(json.dumps(keras.saving.serialize_keras_object(theirs.get_config())))
    b = _without_layer_names(b)
    assert list(a) == list(b)
    assert a == b


def assert_weights_match_keras(ours, theirs):
    """Same count, order (by last path component) and shapes; then copies the
    Keras weights into `ours`."""
    assert len(ours.weights) == len(theirs.weights)
    for mine, other in zip(ours.weights, theirs.weights):
        assert mine.path.split("/")[-1] == other.path.split("/")[-1]
        assert tuple(mine.shape) == tuple(other.shape)
    ours.set_weights([to_numpy(w) for w in theirs.weights])


def assert_from_config_round_trip(layer):
    config = as_json(layer.get_config())
    clone = type(layer).from_config(config)
    assert as_json(clone.get_config()) == config
    return clone


def assert_model_file_round_trip(layer, input_shape, x, tmp_path, dtype="float32"):
    """A functional model holding `layer` saves to `.keras` and loads back with
    the same outputs; returns the loaded model."""
    inputs = lamina.Input(input_shape, dtype=dtype)
    model = lamina.Model(inputs, layer(inputs))
    expected = to_numpy(model(x))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = lamina.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded(x)), expected, rtol=1e-6, atol=1e-6)
    return loaded
