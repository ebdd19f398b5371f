"""Functions in configs (a loss or metric passed as a function, an activation
function) are written as Keras writes them, so each library reads the other's."""

import os

import numpy as np
import pytest

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

PAIRS = [
    (lamina.losses.mean_squared_error, keras.losses.mean_squared_error),
    (lamina.metrics.mean_absolute_error, keras.metrics.mean_absolute_error),
    (lamina.activations.relu, keras.activations.relu),
    (lamina.losses.kl_divergence, keras.losses.kl_divergence),
]


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=lambda f: f.__name__)
def test_function_configs_match_keras_both_ways(ours, theirs):
    config = lamina.saving.serialize_keras_object(ours)
    assert config == keras.saving.serialize_keras_object(theirs)
    assert keras.saving.deserialize_keras_object(config) is theirs
    assert lamina.saving.deserialize_keras_object(config) is ours


def test_a_model_compiled_with_function_losses_loads_in_keras(tmp_path):
    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(1)])
    model.compile(
        optimizer="sgd",
        loss=lamina.losses.mean_squared_error,
        metrics=[lamina.metrics.mean_absolute_error],
    )
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.ones((4, 1), dtype=np.float32)
    model.fit(x, y, verbose=0)
    path = tmp_path / "functions.keras"
    model.save(path)
    theirs = keras.saving.load_model(path)
    ours = model.evaluate(x, y, verbose=0, return_dict=True)
    got = theirs.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(got["loss"], ours["loss"], rtol=1e-5)
    np.testing.assert_allclose(
        got["mean_absolute_error"], ours["mean_absolute_error"], rtol=1e-5
    )


def test_unknown_builtins_function_is_refused_by_name():
    config = {
        "module": "builtins",
        "class_name": "function",
        "config": "get",
        "registered_name": "function",
    }
    with pytest.raises(ValueError, match="'get'"):
        lamina.saving.deserialize_keras_object(config)
