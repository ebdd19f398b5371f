"""Softmax over an axis of size 1 warns with Keras's words (parity gap)."""

import os
import warnings

import numpy as np
import pytest

import lamina
from lamina import activations, layers, ops

os.environ.setdefault("KERAS_BACKEND", "torch")

MESSAGE = (
    "You are using a softmax over axis -1 of a tensor of shape (2, 1). This axis "
    "has size 1. The softmax operation will always return the value 1, which is "
    "likely not what you intended. Did you mean to use a sigmoid instead?"
)
X = np.zeros((2, 1), "float32")


@pytest.mark.parametrize(
    "call",
    [
        lambda: ops.softmax(X),
        lambda: activations.softmax(X),
        lambda: layers.Dense(1, activation="softmax")(X),
    ],
)
def test_softmax_over_a_size_one_axis_warns_like_keras(call):
    with pytest.warns(UserWarning) as record:
        out = call()
    assert [str(w.message) for w in record] == [MESSAGE]
    np.testing.assert_allclose(ops.convert_to_numpy(out), [[1.0], [1.0]])


def test_warning_points_at_the_callers_line():
    with pytest.warns(UserWarning) as record:
        ops.softmax(X)
    assert record[0].filename == __file__


def test_warning_text_is_keras_text():
    keras = pytest.importorskip("keras")
    with pytest.warns(UserWarning) as theirs:
        keras.ops.softmax(X)
    assert str(theirs[0].message) == MESSAGE


def test_symbolic_softmax_warns_once():
    with pytest.warns(UserWarning, match="has size 1") as record:
        ops.softmax(lamina.Input((1,)))
    assert len(record) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: ops.softmax(np.zeros((2, 3), "float32")),
        lambda: ops.softmax(X, axis=0),
        lambda: ops.log_softmax(X),
        lambda: activations.log_softmax(X),
    ],
)
def test_no_warning_elsewhere(call):
    # Keras warns for softmax only (log_softmax never), and only for size 1.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        call()
