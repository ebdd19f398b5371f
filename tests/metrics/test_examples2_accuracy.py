"""Regressions from keras-io's addition_rnn: bool one-hot targets in metrics."""

import os

import numpy as np
import pytest

from lamina import metrics

os.environ.setdefault("KERAS_BACKEND", "torch")

Y_TRUE = np.array([[True, False, False], [False, False, True], [False, True, False]])
Y_PRED = np.array([[0.7, 0.2, 0.1], [0.5, 0.1, 0.4], [0.2, 0.5, 0.3]], "float32")


def test_categorical_accuracy_accepts_bool_one_hot_targets():
    values = metrics.categorical_accuracy(Y_TRUE, Y_PRED)
    np.testing.assert_allclose(values.cpu().numpy(), [1.0, 0.0, 1.0])
    metric = metrics.CategoricalAccuracy()
    metric.update_state(Y_TRUE, Y_PRED)
    assert float(metric.result()) == pytest.approx(2 / 3)


def test_top_k_categorical_accuracy_accepts_bool_one_hot_targets():
    values = metrics.top_k_categorical_accuracy(Y_TRUE, Y_PRED, k=2)
    np.testing.assert_allclose(values.cpu().numpy(), [1.0, 1.0, 1.0])
    values = metrics.top_k_categorical_accuracy(Y_TRUE, Y_PRED, k=1)
    np.testing.assert_allclose(values.cpu().numpy(), [1.0, 0.0, 1.0])


def test_bool_targets_match_keras():
    keras = pytest.importorskip("keras")
    for ours, theirs in [
        (metrics.CategoricalAccuracy(), keras.metrics.CategoricalAccuracy()),
        (
            metrics.TopKCategoricalAccuracy(k=2),
            keras.metrics.TopKCategoricalAccuracy(k=2),
        ),
    ]:
        ours.update_state(Y_TRUE, Y_PRED)
        theirs.update_state(Y_TRUE, Y_PRED)
        assert float(ours.result()) == pytest.approx(float(theirs.result()))
