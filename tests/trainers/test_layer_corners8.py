"""fit/evaluate/predict with an optional model input given as None, where the
None input comes first in the flat batch (the batch size is read from the
first input that is given)."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers


class _OptionalInput(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(2)

    def call(self, x, o=None):
        return self.dense(x if o is None else x + o)


def _model():
    lamina.utils.set_random_seed(1)
    x = lamina.Input((2,), name="x")
    o = lamina.Input((2,), name="o", optional=True)  # "o" sorts before "x"
    model = lamina.Model({"x": x, "o": o}, _OptionalInput()(x, o))
    model.compile(loss="mse", optimizer="sgd")
    return model


@pytest.mark.parametrize("optional_none", [True, False])
def test_fit_evaluate_predict_with_an_optional_input(optional_none):
    model = _model()
    x = np.ones((4, 2), "float32")
    o = None if optional_none else np.full((4, 2), 0.5, "float32")
    y = np.ones((4, 2), "float32")
    history = model.fit({"x": x, "o": o}, y, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    loss = model.evaluate({"x": x, "o": o}, y, verbose=0)
    predictions = model.predict({"x": x, "o": o}, verbose=0)
    assert predictions.shape == (4, 2)
    inputs = x if o is None else x + o
    dense = model.layers[-1].dense
    to_numpy = lamina.ops.convert_to_numpy
    expected = inputs @ to_numpy(dense.kernel) + to_numpy(dense.bias)
    np.testing.assert_allclose(predictions, expected, rtol=1e-5)
    np.testing.assert_allclose(loss, np.mean((expected - y) ** 2), rtol=1e-5)


def test_fit_on_a_generator_with_an_optional_input_set_to_none():
    model = _model()
    x = np.ones((2, 2), "float32")
    y = np.ones((2, 2), "float32")

    def batches(with_y=True):
        for _ in range(3):
            yield ({"x": x, "o": None},) + ((y,) if with_y else ())

    history = model.fit(batches(), verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(batches(with_y=False), verbose=0).shape == (6, 2)


def test_fit_takes_a_list_with_none_for_an_optional_input():
    # A list holding None was refused as "not arrays" with a misleading error.
    a = lamina.Input((3,), name="a")
    b = lamina.Input((3,), name="b", optional=True)

    class AddIfGiven(lamina.layers.Layer):
        def call(self, a, b=None):
            return a if b is None else a + b

    model = lamina.Model([a, b], lamina.layers.Dense(1)(AddIfGiven()(a, b)))
    model.compile("sgd", "mse")
    x, y = np.ones((8, 3), "float32"), np.ones((8, 1), "float32")
    history = model.fit([x, None], y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict([x, None], verbose=0).shape == (8, 1)


def test_a_custom_train_step_adds_to_the_logs_super_returns():
    class Logged(lamina.Model):
        def train_step(self, data):
            logs = super().train_step(data)
            logs["extra"] = 1.5  # Keras's logs are a plain dict
            return logs

    inputs = lamina.Input((3,))
    model = Logged(inputs, lamina.layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    history = model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=1, verbose=0)
    assert history.history["extra"] == [1.5]
    assert np.isfinite(history.history["loss"][0])


def test_variable_numpy_is_a_copy():
    layer = lamina.layers.Dense(2)
    layer.build((None, 3))
    before = layer.kernel.numpy()
    with torch.no_grad():
        layer.kernel.add_(1.0)
    assert not np.allclose(before, layer.kernel.numpy())
