"""fit/evaluate/predict with an optional model input given as None, where the
None input comes first in the flat batch (the batch size is read from the
first input that is given)."""

import numpy as np
import pytest

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
    expected = inputs @ dense.kernel.detach().numpy() + dense.bias.detach().numpy()
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
