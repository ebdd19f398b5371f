"""An eagerly computed tensor used in a functional graph is a constant of the
graph (keras-io TabTransformer column embeddings, BST position embeddings)."""

import numpy as np

import lamina
from lamina import layers, ops


def _model_with_eager_position_embedding():
    inputs = lamina.Input((3,), dtype="int32")
    tokens = layers.Embedding(5, 4)(inputs)
    position_layer = layers.Embedding(3, 4, embeddings_initializer="ones")
    positions = position_layer(ops.arange(start=0, stop=3, step=1))
    assert positions.grad_fn is not None  # computed eagerly, with autograd history
    outputs = layers.Dense(1)(layers.Flatten()(tokens + positions))
    return lamina.Model(inputs, outputs), position_layer


def test_model_trains_for_several_steps_and_keeps_the_constant_fixed():
    model, position_layer = _model_with_eager_position_embedding()
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).integers(0, 5, (8, 3)).astype("int32")
    y = np.zeros((8, 1), "float32")
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert all(np.isfinite(history.history["loss"]))
    # Not a weight of the model (as in Keras): its value stays as built.
    assert len(model.weights) == 3
    np.testing.assert_allclose(
        ops.convert_to_numpy(position_layer.embeddings), np.ones((3, 4))
    )


def test_constant_values_enter_the_output():
    model, _ = _model_with_eager_position_embedding()
    x = np.zeros((2, 3), "int32")
    token_table = ops.convert_to_numpy(model.layers[1].embeddings)
    dense = model.layers[-1]
    kernel = ops.convert_to_numpy(dense.kernel)
    bias = ops.convert_to_numpy(dense.bias)
    expected = (np.tile(token_table[0] + 1.0, 3) @ kernel + bias)[None].repeat(2, 0)
    got = ops.convert_to_numpy(model.predict(x, verbose=0))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
