"""Lambda layers move between lamina and Keras 3 (torch backend) `.keras` files:
by name for registered functions, as bytecode (safe_mode=False) for lambdas."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import lamina  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    "ignore:The object being serialized includes a `lambda`:UserWarning",
)

X = np.random.default_rng(0).random((4, 3), dtype=np.float32)


@keras.saving.register_keras_serializable(package="lambda_interop")
@lamina.saving.register_keras_serializable(package="lambda_interop")
def shifted_square(x):
    return x * x + 1.0


def _model(lib, function):
    inputs = lib.Input((3,))
    hidden = lib.layers.Dense(4, name="dense")(inputs)
    outputs = lib.layers.Lambda(function, name="fn")(hidden)
    return lib.Model(inputs, outputs)


def _predict(model):
    return np.asarray(model.predict(X, verbose=0))


def test_keras_lambda_of_a_registered_function_loads_in_lamina(tmp_path):
    model = _model(keras, shifted_square)
    path = tmp_path / "keras_lambda.keras"
    model.save(path)
    loaded = lamina.saving.load_model(path)
    assert loaded.get_layer("fn").function is shifted_square
    np.testing.assert_allclose(_predict(loaded), _predict(model), atol=1e-5)


def test_lamina_lambda_of_a_registered_function_loads_in_keras(tmp_path):
    model = _model(lamina, shifted_square)
    path = tmp_path / "lamina_lambda.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_predict(loaded), _predict(model), atol=1e-5)


def test_python_lambdas_move_both_ways_with_safe_mode_off(tmp_path):
    k_model = _model(keras, lambda t: t * 2.0 - 1.0)
    k_path = tmp_path / "keras_py_lambda.keras"
    k_model.save(k_path)
    with pytest.raises(ValueError, match="Lambda layer 'fn'.*safe_mode=False"):
        lamina.saving.load_model(k_path)
    loaded = lamina.saving.load_model(k_path, safe_mode=False)
    np.testing.assert_allclose(_predict(loaded), _predict(k_model), atol=1e-5)

    l_path = tmp_path / "lamina_py_lambda.keras"
    loaded.save(l_path)
    back = keras.saving.load_model(l_path, safe_mode=False)
    np.testing.assert_allclose(_predict(back), _predict(k_model), atol=1e-5)
