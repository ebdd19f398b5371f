"""Regressions found by running Keras's guides (training, custom steps) on lamina."""

import numpy as np
import pytest

import lamina
from lamina import layers


def _frozen_model(jit_compile=False):
    inputs = lamina.Input(shape=(3,))
    outputs = layers.Dense(2, kernel_initializer="ones", trainable=False)(inputs)
    model = lamina.Model(inputs, outputs)
    model.compile(
        optimizer="adam", loss="mse", metrics=["mae"], jit_compile=jit_compile
    )
    return model


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")
@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_on_a_fully_frozen_model_warns_and_still_reports_the_loss(jit_compile):
    # Keras: "The model does not have any trainable weights." is a warning, and
    # the loss and metrics are still computed (guides add a loss-only layer).
    model = _frozen_model(jit_compile)
    x = np.ones((4, 3), "float32")
    y = np.zeros((4, 2), "float32")
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        history = model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    # Dense with all-ones kernel, zero bias: every output is 3, target 0.
    np.testing.assert_allclose(history.history["loss"], [9.0, 9.0])
    np.testing.assert_allclose(history.history["mae"], [3.0, 3.0])
    np.testing.assert_array_equal(model.layers[-1].get_weights()[0], np.ones((3, 2)))


def test_train_on_batch_on_a_frozen_model_returns_the_loss():
    model = _frozen_model()
    with pytest.warns(UserWarning, match="trainable weights"):
        loss, mae = model.train_on_batch(np.ones((2, 3)), np.zeros((2, 2)))
    assert loss == pytest.approx(9.0)
    assert mae == pytest.approx(3.0)


class _TestStepIteratingMetrics(lamina.Model):
    """As in the custom-train-step guides: test_step reads self.metrics."""

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _custom_test_step_model():
    inputs = lamina.Input(shape=(3,))
    outputs = layers.Dense(1, kernel_initializer="ones")(inputs)
    model = _TestStepIteratingMetrics(inputs, outputs)
    model.compile(loss="mse", metrics=["mae"])
    return model


def test_custom_test_step_sees_compiled_metrics_in_evaluate():
    model = _custom_test_step_model()
    x = np.ones((4, 3), "float32")
    y = np.zeros((4, 1), "float32")
    logs = model.evaluate(x, y, batch_size=2, return_dict=True, verbose=0)
    assert sorted(logs) == ["loss", "mae"]
    assert logs["loss"] == pytest.approx(9.0)
    assert logs["mae"] == pytest.approx(3.0)


def test_custom_test_step_sees_compiled_metrics_in_test_on_batch():
    model = _custom_test_step_model()
    logs = model.test_on_batch(np.ones((2, 3)), np.zeros((2, 1)), return_dict=True)
    assert logs == pytest.approx({"loss": 9.0, "mae": 3.0})
