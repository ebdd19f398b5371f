"""Model inputs and outputs as Keras 3: namedtuple outputs, the one-axis leeway."""

import collections

import numpy as np
import pytest

import lamina

Pair = collections.namedtuple("Pair", ["y1", "y2"])


def _model():
    x = lamina.Input((3,))
    return lamina.Model(x, Pair(lamina.layers.Dense(2)(x), lamina.layers.Dense(1)(x)))


def test_namedtuple_outputs_come_back_as_the_namedtuple():
    model = _model()
    assert isinstance(model.output, Pair) and model.output.y1.shape == (None, 2)
    x = np.ones((4, 3), "float32")
    predicted = model.predict(x, verbose=0)
    assert isinstance(predicted, Pair) and predicted.y2.shape == (4, 1)
    called = model(x)
    assert isinstance(called, Pair) and tuple(called.y1.shape) == (4, 2)
    # Keras's config writes it as a plain tuple, and from_config returns one.
    rebuilt = lamina.Model.from_config(model.get_config())
    assert type(rebuilt.output) is tuple and len(rebuilt.output) == 2


def test_a_model_with_namedtuple_outputs_trains_with_a_loss_per_output():
    model = _model()
    model.compile("sgd", loss=["mse", "mse"])
    x = np.ones((8, 3), "float32")
    history = model.fit(x, (np.zeros((8, 2)), np.zeros((8, 1))), verbose=0, epochs=2)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["loss"]).all()


def test_the_same_in_keras():
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    x = keras.Input((3,))
    model = keras.Model(x, Pair(keras.layers.Dense(2)(x), keras.layers.Dense(1)(x)))
    assert isinstance(model.output, Pair)
    assert type(keras.Model.from_config(model.get_config()).output) is tuple


def test_a_sequential_starting_with_an_input_of_one_feature_takes_a_flat_array():
    # Keras's one-axis leeway, as for functional models: (8,) for Input((1,)).
    model = lamina.Sequential([lamina.Input((1,)), lamina.layers.Dense(2)])
    model.compile("sgd", "mse")
    model.fit(np.arange(8, dtype="float32"), np.zeros((8, 2)), verbose=0)
    assert model.predict(np.arange(4, dtype="float32"), verbose=0).shape == (4, 2)
    assert model.predict(np.ones((4, 1, 1), "float32"), verbose=0).shape == (4, 2)
    without_input = lamina.Sequential([lamina.layers.Dense(2)])
    with pytest.raises(ValueError, match="rank >= 2"):
        without_input.predict(np.arange(4, dtype="float32"), verbose=0)


def test_building_a_two_input_model_from_one_shape_says_what_is_wrong():
    class TwoInputs(lamina.Model):
        def __init__(self):
            super().__init__()
            self.dense = lamina.layers.Dense(3)

        def call(self, x, y):
            return self.dense(x) - y

    with pytest.raises(ValueError, match=r"takes 2 inputs \(x, y\).*one input shape"):
        TwoInputs().build((None, 4))

    class WithTraining(lamina.Model):
        def __init__(self):
            super().__init__()
            self.dense = lamina.layers.Dense(3)

        def call(self, inputs, training):  # no default: Keras passes it
            return self.dense(inputs)

    model = WithTraining()
    model.build((None, 4))
    assert model.dense.kernel.shape == (4, 3)
