"""Files written by Keras 3.15 (tests/saving/fixtures, see make_fixtures.py) load
in lamina and predict what Keras predicted; no `keras` package needed."""

import json
import os
import shutil

import numpy as np
import pytest

import lamina
from lamina import layers

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
with open(os.path.join(HERE, "expected.json")) as _f:
    EXPECTED = json.load(_f)
X = np.asarray(EXPECTED["x"], dtype="float32")
B = np.asarray(EXPECTED["b"], dtype="float32")


def _fixture(name, tmp_path):
    # Copy: loading must never need write access to the fixture.
    path = tmp_path / name
    shutil.copy(os.path.join(HERE, name), path)
    return path


def _sequential():
    return lamina.Sequential(
        [
            lamina.Input((4,)),
            layers.Dense(5, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(2),
        ]
    )


def test_keras_sequential_file_loads_compiled_with_its_optimizer_state(tmp_path):
    model = lamina.saving.load_model(_fixture("keras_sequential.keras", tmp_path))
    np.testing.assert_allclose(
        model.predict(X, verbose=0), EXPECTED["sequential"], atol=1e-5
    )
    assert model.compiled and isinstance(model.optimizer, lamina.optimizers.Adam)
    assert int(model.optimizer.iterations) == EXPECTED["iterations"]
    assert model.optimizer.learning_rate == pytest.approx(0.01)
    history = model.fit(X, X[:, :2], epochs=1, verbose=0)  # training continues
    assert np.isfinite(history.history["loss"][0])


def test_keras_weights_file_loads_into_the_same_architecture(tmp_path):
    model = _sequential()
    model.load_weights(_fixture("keras_sequential.weights.h5", tmp_path))
    np.testing.assert_allclose(
        model.predict(X, verbose=0), EXPECTED["sequential"], atol=1e-5
    )


def test_keras_functional_file_with_two_inputs_and_outputs_loads(tmp_path):
    model = lamina.saving.load_model(_fixture("keras_functional.keras", tmp_path))
    outputs = model.predict([X, B], verbose=0)
    for got, want in zip(outputs, EXPECTED["functional"]):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_legacy_keras_h5_weights_load_by_order_and_by_name(tmp_path):
    path = _fixture("keras_legacy.h5", tmp_path)
    model = _sequential()
    model.load_weights(path)
    np.testing.assert_allclose(
        model.predict(X, verbose=0), EXPECTED["sequential"], atol=1e-5
    )
    by_name = lamina.Sequential(
        [
            lamina.Input((5,)),
            layers.Dense(2, name="dense_1"),
            layers.Dense(3, name="unrelated"),
        ]
    )
    before = by_name.layers[1].get_weights()[0]
    by_name.load_weights(path, by_name=True)
    np.testing.assert_array_equal(by_name.layers[1].get_weights()[0], before)
    reference = _sequential()
    reference.load_weights(path)
    for got, want in zip(
        by_name.layers[0].get_weights(), reference.layers[2].get_weights()
    ):
        np.testing.assert_array_equal(got, want)
    wrong = lamina.Sequential([lamina.Input((4,)), layers.Dense(2, name="dense_1")])
    with pytest.raises(
        ValueError, match=r"dense_1/kernel' has shape \(4, 2\), the file"
    ):
        wrong.load_weights(path, by_name=True)
