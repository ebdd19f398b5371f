"""A Model subclass that builds a graph and passes (inputs, outputs) on to
`Model.__init__` becomes a functional model of its own class, as in Keras."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.models.functional import Functional

os.environ.setdefault("KERAS_BACKEND", "torch")


def _subclass(library):
    class Head(library.Model):
        def __init__(self, units=2, **kwargs):
            inputs = library.Input((3,), name="features")
            outputs = library.layers.Dense(units, name="logits")(inputs)
            super().__init__(inputs, outputs, **kwargs)
            self.units = units

    return Head


def test_the_subclass_is_a_functional_model_that_trains():
    Head = _subclass(lamina)
    model = Head(units=4, name="head")
    assert isinstance(model, Head) and isinstance(model, Functional)
    assert model.name == "head" and model.units == 4
    assert [layer.name for layer in model.layers] == ["features", "logits"]
    assert model.output_shape == (None, 4)
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 4), "float32")
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_keywords_inputs_and_outputs_work_too():
    class Named(lamina.Model):
        def __init__(self):
            inputs = lamina.Input((2,))
            super().__init__(inputs=inputs, outputs=layers.Dense(1)(inputs))

    assert Named().output_shape == (None, 1)


def test_weights_move_to_the_same_keras_subclass(tmp_path):
    keras = pytest.importorskip("keras")
    ours = _subclass(lamina)(units=2)
    theirs = _subclass(keras)(units=2)
    path = tmp_path / "head.weights.h5"
    ours.save_weights(path)
    theirs.load_weights(path)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(
        theirs.predict(x, verbose=0), ours.predict(x, verbose=0), rtol=1e-6
    )
