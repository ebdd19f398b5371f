"""Regression tests from the keras-io examples sweep 7B (InputLayer)."""

import os

import pytest

import lamina as keras
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def test_input_shape_is_taken_with_a_deprecation_warning():
    # generative/gan_ada: Sequential([layers.InputLayer(input_shape=...), ...]).
    with pytest.warns(UserWarning, match="input_shape"):
        layer = layers.InputLayer(input_shape=(16, 16, 3))
    assert layer.batch_shape == (None, 16, 16, 3)
    with pytest.warns(UserWarning):
        model = keras.Sequential([layers.InputLayer(input_shape=(4,)), layers.Dense(2)])
    assert tuple(model.output_shape) == (None, 2)
    assert model(keras.ops.ones((3, 4))).shape == (3, 2)


def test_batch_input_shape_is_taken():
    layer = layers.InputLayer(batch_input_shape=(8, 5))
    assert layer.batch_shape == (8, 5)


def test_same_shapes_as_keras():
    k = pytest.importorskip("keras")
    with pytest.warns(UserWarning):
        ours = layers.InputLayer(input_shape=(7, 2)).batch_shape
        theirs = k.layers.InputLayer(input_shape=(7, 2)).batch_shape
    assert tuple(ours) == tuple(theirs)
    assert tuple(layers.InputLayer(batch_input_shape=(3, 1)).batch_shape) == tuple(
        k.layers.InputLayer(batch_input_shape=(3, 1)).batch_shape
    )
