"""Metrics behaving as Keras 3's own unit tests expect (session 9)."""

import os

import numpy as np
import pytest

import lamina
from lamina import metrics

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.mark.parametrize(
    "make",
    [
        lambda v: [v(0.0), v(1.0)],
        lambda v: {"a": v(0.0), "b": v(1.0)},
        lambda v: {"a": [v(0.0), v(1.0)]},
    ],
    ids=["list", "dict", "nested"],
)
def test_variables_set_as_attributes_are_tracked_as_in_keras(make):
    keras = pytest.importorskip("keras")
    ours = metrics.Mean(name="m")
    ours.more_vars = make(lamina.Variable)
    theirs = keras.metrics.Mean(name="m")
    theirs.more_vars = make(keras.Variable)
    assert len(ours.variables) == len(theirs.variables) == 4
    # the attribute's own Variables, after the metric's state
    tracked = ours.variables[2:]
    assert all(isinstance(v, lamina.Variable) for v in tracked)
    assert [float(v.numpy()) for v in tracked] == [0.0, 1.0]


def test_reset_state_zeroes_tracked_variables_as_keras():
    metric = metrics.Mean()
    metric.extra = [lamina.Variable([1.0, 2.0])]
    metric.update_state([3.0, 5.0])
    metric.reset_state()
    np.testing.assert_array_equal(metric.extra[0].numpy(), [0.0, 0.0])
    assert float(metric.result()) == 0.0


def test_a_variable_assigned_twice_is_tracked_once():
    metric = metrics.Sum()
    v = lamina.Variable(1.0)
    metric.a = v
    metric.b = [v]
    assert len(metric.variables) == 2
