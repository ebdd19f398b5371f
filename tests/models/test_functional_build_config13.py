"""A functional model's build config holds no shape, as Keras writes it (the
model is built when constructed; its inputs are in its config), and files
with it load in lamina and in Keras."""

import os

import numpy as np
import pytest

import lamina


def _model(lib):
    inputs = [lib.Input((2,), name="a"), lib.Input((3,), name="b")]
    outputs = lib.layers.Dense(4)(lib.layers.Concatenate()(inputs))
    return lib.Model(inputs, outputs)


def test_functional_build_config_is_kerass():
    assert _model(lamina).get_build_config() == {"input_shape": None}
    sequential = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(3)])
    assert sequential.get_build_config() == {"input_shape": (None, 2)}


def test_functional_file_loads_in_keras_and_back(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    model = _model(lamina)
    x = [np.ones((2, 2), "float32"), np.ones((2, 3), "float32")]
    path = str(tmp_path / "functional.keras")
    model.save(path)
    theirs = keras.saving.load_model(path)
    np.testing.assert_allclose(
        np.asarray(theirs.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-6
    )
    back = str(tmp_path / "back.keras")
    theirs.save(back)
    ours = lamina.saving.load_model(back)
    np.testing.assert_allclose(
        ours.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
