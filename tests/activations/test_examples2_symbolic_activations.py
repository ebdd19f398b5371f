"""Regressions from keras-io's memory-efficient embeddings recipe:
`keras.activations.sigmoid(symbolic_tensor)` inside a functional model."""

import json
import os

import numpy as np
import pytest

import lamina
from lamina import activations, layers, ops

os.environ.setdefault("KERAS_BACKEND", "torch")

NAMES = [
    "celu", "elu", "exponential", "gelu", "hard_shrink", "hard_sigmoid",
    "hard_silu", "hard_tanh", "leaky_relu", "log_sigmoid", "log_softmax",
    "mish", "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink",
    "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
    "sparsemax", "squareplus", "tanh", "tanh_shrink",
]  # fmt: skip
X = np.array([[-1.5, -0.2, 0.3, 2.0]], "float32")


@pytest.mark.parametrize("name", NAMES)
def test_activation_on_a_keras_tensor_builds_a_graph_that_computes_it(name):
    fn = getattr(activations, name)
    inputs = lamina.Input((4,))
    symbolic = fn(inputs)
    assert isinstance(symbolic, lamina.KerasTensor)
    assert symbolic.shape == (None, 4) and symbolic.dtype == "float32"
    model = lamina.Model(inputs, symbolic)
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(X)), ops.convert_to_numpy(fn(X)), rtol=1e-6
    )


@pytest.mark.parametrize("name", NAMES)
def test_graph_with_an_activation_reloads_from_json(name):
    inputs = lamina.Input((4,))
    model = lamina.Model(inputs, getattr(activations, name)(inputs))
    again = lamina.models.model_from_json(model.to_json())
    np.testing.assert_allclose(
        ops.convert_to_numpy(again(X)), ops.convert_to_numpy(model(X)), rtol=1e-6
    )


def test_symbolic_gelu_keeps_the_exact_default_not_the_ops_tanh_default():
    inputs = lamina.Input((4,))
    model = lamina.Model(inputs, activations.gelu(inputs))
    exact = activations.gelu(X, approximate=False)
    approx = activations.gelu(X, approximate=True)
    out = ops.convert_to_numpy(model(X))
    np.testing.assert_allclose(out, ops.convert_to_numpy(exact), rtol=1e-6)
    assert not np.allclose(out, ops.convert_to_numpy(approx), rtol=1e-7, atol=0)


def test_relu_with_max_value_on_a_keras_tensor_runs():
    inputs = lamina.Input((4,))
    model = lamina.Model(inputs, activations.relu(inputs, max_value=1.0))
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(X)), [[0.0, 0.0, 0.3, 1.0]], rtol=1e-6
    )


def test_sigmoid_head_of_the_recipe_matches_keras():
    keras = pytest.importorskip("keras")

    def build(k):
        a, b = k.Input((3,)), k.Input((3,))
        logits = k.layers.Dot(axes=1)([a, b])
        return k.Model([a, b], k.activations.sigmoid(logits) * 5)

    ours, theirs = build(lamina), build(keras)
    a = np.array([[0.1, -0.2, 0.3]], "float32")
    b = np.array([[1.0, 2.0, -1.0]], "float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(ours([a, b])),
        keras.ops.convert_to_numpy(theirs([a, b])),
        rtol=1e-6,
    )
    classes = [e["class_name"] for e in json.loads(ours.to_json())["config"]["layers"]]
    assert "Sigmoid" in classes


def test_activations_stay_the_registered_functions():
    assert activations.get("sigmoid") is activations.sigmoid
    assert activations.serialize(activations.gelu) == "gelu"
    assert layers.Dense(2, activation="relu").activation is activations.relu
