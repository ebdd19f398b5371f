"""What KerasHub's modeling layers (run on lamina as `keras`, session 10) needed
from lamina's layers: Keras's `compute_mask(self, inputs, mask=None)` argument
name on the built-in layers that define one, which KerasHub's
`TokenAndPositionEmbedding.compute_mask` calls by keyword."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, ops

TOKENS = np.array([[3, 5, 0], [1, 0, 0]], dtype="int32")


def test_embedding_compute_mask_takes_keras_keyword_mask():
    emb = layers.Embedding(10, 4, mask_zero=True)
    mask = emb.compute_mask(TOKENS, mask=None)
    np.testing.assert_array_equal(ops.convert_to_numpy(mask), TOKENS != 0)
    assert layers.Embedding(10, 4).compute_mask(TOKENS, mask=None) is None


def test_reversible_embedding_compute_mask_takes_keyword_mask_and_gives_none():
    emb = layers.ReversibleEmbedding(10, 4, mask_zero=True)
    assert emb.compute_mask(TOKENS, mask=None) is None


@pytest.mark.parametrize(
    "layer",
    [
        layers.Masking(),
        layers.Lambda(lambda x: x, mask=lambda inputs, mask: mask),
        layers.GlobalAveragePooling1D(),
    ],
    ids=["masking", "lambda", "global_average_pooling1d"],
)
def test_single_input_layers_compute_mask_accept_keyword_mask(layer):
    x = np.array([[[1.0, 2.0], [0.0, 0.0]]], dtype="float32")
    mask = np.array([[True, False]])
    got = layer.compute_mask(x, mask=mask)
    if isinstance(layer, layers.GlobalAveragePooling1D):
        assert got is None
    else:
        np.testing.assert_array_equal(ops.convert_to_numpy(got), mask)


def test_merge_layers_compute_mask_accept_keyword_mask():
    a = np.ones((2, 3, 4), "float32")
    m1 = np.array([[True, False, True], [False, False, True]])
    m2 = np.array([[False, False, True], [True, False, False]])
    added = layers.Add().compute_mask([a, a], mask=[m1, m2])
    np.testing.assert_array_equal(ops.convert_to_numpy(added), m1 | m2)
    joined = layers.Concatenate(axis=1).compute_mask([a, a], mask=[m1, m2])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(joined), np.concatenate([m1, m2], axis=1)
    )
    assert layers.Dot(axes=2).compute_mask([a, a], mask=[m1, m2]) is None


class _TokenEmbedding(layers.Layer):
    """KerasHub's pattern: a wrapper whose mask is its inner Embedding's."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = layers.Embedding(10, 4, mask_zero=True)
        self.supports_masking = True

    def call(self, inputs):
        return self.token_embedding(inputs)

    def compute_mask(self, inputs, mask=None):
        return self.token_embedding.compute_mask(inputs, mask=mask)


def test_wrapper_forwarding_mask_keyword_masks_downstream_eager_and_functional():
    wrapper = _TokenEmbedding()
    out = wrapper(TOKENS)
    np.testing.assert_array_equal(ops.convert_to_numpy(out._keras_mask), TOKENS != 0)
    inputs = lamina.Input((3,), dtype="int32")
    pooled = layers.GlobalAveragePooling1D()(_TokenEmbedding()(inputs))
    model = lamina.Model(inputs, pooled)
    emb = model.layers[1].token_embedding.embeddings
    got = ops.convert_to_numpy(model(TOKENS))
    table = ops.convert_to_numpy(emb)
    keep = (TOKENS != 0)[..., None]
    want = (table[TOKENS] * keep).sum(1) / keep.sum(1)  # mean over kept steps
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert isinstance(model(TOKENS), torch.Tensor)


# --- ReversibleEmbedding(reverse=True) under mixed precision -------------------
# KerasHub's language models compute logits with `token_embedding(x,
# reverse=True)`, often with `reverse_dtype="float32"`; Keras's matmul promotes
# and honours the cast, where torch.autocast would compute in bfloat16.

HIDDEN = np.random.default_rng(0).normal(size=(2, 3, 8)).astype("float32")
TABLE = np.random.default_rng(1).normal(size=(10, 8)).astype("float32")


def _reversible(policy, reverse_dtype=None):
    layer = layers.ReversibleEmbedding(10, 8, reverse_dtype=reverse_dtype, dtype=policy)
    layer.build()
    layer.set_weights([TABLE])
    return layer


@pytest.mark.parametrize(
    "policy, reverse_dtype, hidden_dtype, want",
    [
        ("mixed_bfloat16", "float32", "bfloat16", torch.float32),
        ("mixed_bfloat16", "float32", "float32", torch.float32),
        ("mixed_bfloat16", None, "float32", torch.float32),
        ("mixed_bfloat16", None, "bfloat16", torch.bfloat16),
        ("mixed_float16", "bfloat16", "float32", torch.bfloat16),
        ("mixed_float16", None, "bfloat16", torch.float32),
        ("float32", None, "bfloat16", torch.float32),
        ("bfloat16", None, "bfloat16", torch.bfloat16),
    ],
)
def test_reverse_logits_dtype_follows_keras_promotion(
    policy, reverse_dtype, hidden_dtype, want
):
    layer = _reversible(policy, reverse_dtype)
    logits = layer(ops.cast(HIDDEN, hidden_dtype), reverse=True)
    assert logits.dtype == want


def test_reverse_float32_logits_of_a_mixed_layer_are_computed_in_float32():
    layer = _reversible("mixed_bfloat16", "float32")
    logits = ops.convert_to_numpy(layer(HIDDEN, reverse=True))
    # Called on its own, the mixed layer reads its kernel in bfloat16 (Keras).
    kernel = torch.tensor(TABLE).to(torch.bfloat16).float().numpy().T
    np.testing.assert_allclose(logits, HIDDEN @ kernel, rtol=1e-5, atol=1e-5)


class _LMHead(layers.Layer):
    """A mixed layer projecting onto the vocabulary, as a KerasHub CausalLM."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embedding = layers.ReversibleEmbedding(
            10, 8, reverse_dtype="float32", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        self.embedding.build()

    def call(self, hidden):
        return self.embedding(hidden, reverse=True)


def test_reverse_inside_a_mixed_layer_uses_the_float32_kernel():
    head = _LMHead(dtype="mixed_bfloat16")
    head.build(None)
    head.embedding.set_weights([TABLE])
    logits = head(HIDDEN)
    assert logits.dtype == torch.float32
    # The caller casts the hidden states to bfloat16; the kernel stays float32.
    hidden = torch.tensor(HIDDEN).to(torch.bfloat16).float().numpy()
    np.testing.assert_allclose(
        ops.convert_to_numpy(logits), hidden @ TABLE.T, rtol=1e-5, atol=1e-5
    )


def test_reverse_logits_match_keras_under_mixed_precision():
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    for reverse_dtype in (None, "float32"):
        mine = _reversible("mixed_bfloat16", reverse_dtype)
        theirs = keras.layers.ReversibleEmbedding(
            10, 8, reverse_dtype=reverse_dtype, dtype="mixed_bfloat16"
        )
        theirs.build()
        theirs.set_weights([TABLE])
        got = mine(HIDDEN, reverse=True)
        want = theirs(HIDDEN, reverse=True)
        assert str(got.dtype) == str(want.dtype)
        np.testing.assert_array_equal(
            ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want)
        )


# --- add_weight onto an attribute set to None in __init__ (KerasHub DoRADense) --


class _PlaceholderDense(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.kernel = None  # filled in build, as KerasHub's DoRADense does
        self.bias = None

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1], self.units), trainable=False
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,))

    def call(self, inputs):
        return ops.matmul(inputs, self.kernel) + self.bias


def test_add_weight_replaces_a_none_placeholder_attribute():
    layer = _PlaceholderDense(3)
    out = layer(np.ones((2, 4), "float32"))
    assert tuple(out.shape) == (2, 3)
    # Keras lists trainable weights first.
    assert [w.path for w in layer.weights] == [
        f"{layer.name}/bias",
        f"{layer.name}/kernel",
    ]
    assert len(layer.trainable_weights) == 1 and len(layer.non_trainable_weights) == 1
    assert sorted(name for name, _ in layer.named_parameters()) == ["bias", "kernel"]
    expected = np.ones((2, 4)) @ ops.convert_to_numpy(layer.kernel) + (
        ops.convert_to_numpy(layer.bias)
    )
    np.testing.assert_allclose(ops.convert_to_numpy(out), expected, rtol=1e-6)


def test_add_weight_named_like_a_set_attribute_gets_its_own_key():
    class _Named(layers.Layer):
        def build(self, input_shape):
            self.scale = "not a weight"
            self.w = self.add_weight(name="scale", shape=(2,))

    layer = _Named()
    layer.build((1, 2))
    assert layer.scale == "not a weight"
    assert layer.w.path.endswith("/scale")
    assert len(layer.weights) == 1
