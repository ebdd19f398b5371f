"""Regressions from keras-io's text examples: strings and tensors."""

import numpy as np
import pytest

import lamina
from lamina import layers, ops


def test_convert_to_tensor_refuses_strings_with_a_value_error():
    # Keras's torch backend: ValueError("Unsupported dtype for PyTorch: string").
    with pytest.raises(ValueError, match="strings.*straight to the string layer"):
        ops.convert_to_tensor([["this message is about computer graphics"]])


class _QREmbedding(layers.Layer):
    """The memory-efficient embeddings recipe's layer: a StringLookup inside."""

    def __init__(self, vocabulary, dim, buckets):
        super().__init__()
        self.buckets = buckets
        self.lookup = layers.StringLookup(
            vocabulary=vocabulary, mask_token=None, num_oov_indices=0
        )
        self.q = layers.Embedding(buckets, dim)
        self.r = layers.Embedding(buckets, dim)

    def call(self, inputs):
        index = self.lookup(inputs)
        return self.q(ops.floor_divide(index, self.buckets)) * self.r(
            ops.mod(index, self.buckets)
        )


def test_custom_layer_calling_string_lookup_works_on_a_string_input():
    vocab = [str(i) for i in range(20)]
    inputs = lamina.Input(shape=(), dtype="string")
    outputs = _QREmbedding(vocab, dim=4, buckets=5)(inputs)
    assert outputs.shape == (None, 4)
    model = lamina.Model(inputs, layers.Dense(1)(outputs))
    model.compile("adam", "mse")
    x = np.array(["3", "19", "7", "0"])
    history = model.fit(x, np.zeros((4, 1), "float32"), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x, verbose=0).shape == (4, 1)


def test_eager_string_lookup_still_refuses_unknown_tokens_without_oov():
    lookup = layers.StringLookup(vocabulary=["a"], num_oov_indices=0)
    with pytest.raises(ValueError, match="out-of-vocabulary values \\['b'\\]"):
        lookup(np.array(["b"]))


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_lookup_encodings_are_int64_eager_and_symbolic(mode):
    # Keras 3.15 (TF tables) computes these in int64 but declares floatx in
    # compute_output_spec; lamina keeps the computed int64 in both.
    lookup = layers.StringLookup(vocabulary=["a", "b"], output_mode=mode)
    eager = lookup(np.array([["a"], ["b"]]))
    assert eager.dtype == lamina.backend.to_torch_dtype("int64")
    assert lookup(lamina.Input((1,), dtype="string")).dtype == "int64"
