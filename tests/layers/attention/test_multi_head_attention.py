import numpy as np
import pytest
import torch

import lamina
from lamina.layers.attention.multi_head_attention import MultiHeadAttention

RNG = np.random.default_rng(0)
Q = RNG.normal(size=(2, 4, 6)).astype("float32")
V = RNG.normal(size=(2, 5, 6)).astype("float32")


def _reference(layer, query, value, mask=None):
    """NumPy multi-head attention from the layer's weights (Keras layouts)."""
    wq, bq, wk, bk, wv, bv, wo, bo = [
        np.asarray(w, "float64") for w in layer.get_weights()
    ]
    q = np.einsum("btd,dnh->btnh", query, wq) + bq
    k = np.einsum("bsd,dnh->bsnh", value, wk) + bk
    v = np.einsum("bsd,dnh->bsnh", value, wv) + bv
    scores = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask[:, None], scores, -1e9)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    heads = np.einsum("bnts,bsnh->btnh", probs, v)
    return np.einsum("btnh,nhd->btd", heads, wo) + bo, probs


def _np(x):
    return x.detach().cpu().numpy()


def test_weights_have_keras_shapes_names_and_order():
    layer = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4)
    layer(Q, V)
    assert [tuple(w.shape) for w in layer.weights] == [
        (6, 2, 3),
        (2, 3),
        (6, 2, 3),
        (2, 3),
        (6, 2, 4),
        (2, 4),
        (2, 4, 6),
        (6,),
    ]
    assert [w.path for w in layer.weights][::2] == [
        "multi_head_attention/query/kernel",
        "multi_head_attention/key/kernel",
        "multi_head_attention/value/kernel",
        "multi_head_attention/attention_output/kernel",
    ]
    assert layer.count_params() == 2 * (36 + 6) + (48 + 8) + (48 + 6)


def test_cross_attention_matches_a_numpy_reference():
    layer = MultiHeadAttention(num_heads=2, key_dim=3, bias_initializer="random_normal")
    out, scores = layer(Q, V, return_attention_scores=True)
    expected, probs = _reference(layer, Q, V)
    np.testing.assert_allclose(_np(out), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(scores), probs, rtol=1e-5, atol=1e-6)
    # The fused path (no scores asked) gives the same outputs.
    np.testing.assert_allclose(_np(layer(Q, V)), expected, rtol=1e-5, atol=1e-5)


def test_attention_mask_blocks_positions():
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    mask = RNG.random((2, 4, 5)) > 0.4
    mask[:, :, 0] = True
    out = layer(Q, V, attention_mask=mask)
    expected, _ = _reference(layer, Q, V, mask)
    np.testing.assert_allclose(_np(out), expected, rtol=1e-5, atol=1e-5)


def test_causal_mask_keeps_the_future_out():
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    changed = Q.copy()
    changed[:, 2:] += 5.0
    a = _np(layer(Q, Q, use_causal_mask=True))
    b = _np(layer(changed, changed, use_causal_mask=True))
    np.testing.assert_allclose(a[:, :2], b[:, :2], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[:, 2:], b[:, 2:])
    _, scores = layer(Q, Q, use_causal_mask=True, return_attention_scores=True)
    upper = np.triu(np.ones((4, 4), bool), k=1)
    assert np.all(_np(scores)[:, :, upper] == 0.0)


def test_keras_masks_on_inputs_hide_padding_and_travel_to_the_output():
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    mask = torch.tensor(
        [[True, True, True, False, False], [True, True, False, False, False]]
    )
    value = torch.tensor(V)
    value._keras_mask = mask
    query = torch.tensor(Q)
    out = layer(query, value)
    noisy = torch.tensor(V)
    noisy[~mask] += 100.0
    noisy._keras_mask = mask
    np.testing.assert_allclose(_np(layer(query, noisy)), _np(out), rtol=1e-5, atol=1e-5)
    # A masked query passes its mask on; padded query rows still give numbers.
    # On lamina's device, where the layer takes the tensor (and its mask) as is.
    x = torch.tensor(V, device=lamina.backend.get_device())
    x._keras_mask = mask = mask.to(x.device)
    y = layer(x, x)
    assert y._keras_mask is mask
    assert torch.isfinite(y).all()


def test_explicit_query_mask_is_applied():
    layer = MultiHeadAttention(num_heads=1, key_dim=2)
    query_mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    _, scores = layer(Q, V, query_mask=query_mask, return_attention_scores=True)
    assert np.all(_np(scores)[0, :, 2:] == 0.0)


def test_dropout_applies_only_in_training_and_is_seeded():
    a = MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5, seed=1)
    b = MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5, seed=1)
    a(Q, V)
    b(Q, V)
    b.set_weights(a.get_weights())
    expected, _ = _reference(a, Q, V)
    np.testing.assert_allclose(_np(a(Q, V)), expected, rtol=1e-5, atol=1e-5)
    train_a, train_b = _np(a(Q, V, training=True)), _np(b(Q, V, training=True))
    np.testing.assert_allclose(train_a, train_b)
    assert not np.allclose(train_a, expected, atol=1e-3)


def test_unseeded_dropout_uses_the_fused_kernel_in_training():
    layer = MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.9)
    out = layer(Q, V, training=True)
    assert out.shape == (2, 4, 6)
    assert not np.allclose(_np(out), _np(layer(Q, V)), atol=1e-3)


def test_output_shape_value_dim_and_higher_rank_inputs():
    layer = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5, output_shape=(7,))
    assert tuple(layer(Q, V).shape) == (2, 4, 7)
    layer = MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(1, 2))
    x = RNG.normal(size=(2, 3, 4, 5)).astype("float32")
    out, scores = layer(x, x, return_attention_scores=True)
    assert tuple(out.shape) == (2, 3, 4, 5)
    assert tuple(scores.shape) == (2, 2, 3, 4, 3, 4)
    np.testing.assert_allclose(_np(scores).sum(axis=(-2, -1)), 1.0, rtol=1e-5)


def test_gate_and_sliding_window():
    layer = MultiHeadAttention(num_heads=2, key_dim=3, use_gate=True, sliding_window=2)
    _, scores = layer(Q, Q, return_attention_scores=True)
    assert len(layer.weights) == 10
    far = np.abs(np.subtract.outer(np.arange(4), np.arange(4))) >= 2
    assert np.all(_np(scores)[:, :, far] == 0.0)


def test_symbolic_call_build_config_and_config_round_trip():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1, seed=3)
    out, scores = layer(
        lamina.Input((5, 8)), lamina.Input((7, 6)), return_attention_scores=True
    )
    assert out.shape == (None, 5, 8)
    assert scores.shape == (None, 2, 5, 7)
    build_config = layer.get_build_config()
    assert build_config == {
        "shapes_dict": {"query_shape": (None, 5, 8), "value_shape": (None, 7, 6)}
    }
    clone = MultiHeadAttention.from_config(layer.get_config())
    clone.build_from_config(build_config)
    assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]
    assert clone.get_config() == {**layer.get_config(), "name": clone.name}
    assert layer.compute_output_shape((None, 5, 8), (None, 7, 6)) == (None, 5, 8)


def test_trains_inside_a_subclassed_model():
    class Block(lamina.Model):
        def __init__(self):
            super().__init__()
            self.attention = MultiHeadAttention(num_heads=2, key_dim=4)
            self.head = lamina.layers.Dense(1)

        def call(self, x):
            return self.head(self.attention(x, x))

    model = Block()
    model.compile(optimizer="adam", loss="mse")
    x = RNG.normal(size=(8, 4, 6)).astype("float32")
    y = RNG.normal(size=(8, 4, 1)).astype("float32")
    history = model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_heads": 0, "key_dim": 2}, "num_heads"),
        ({"num_heads": 2, "key_dim": 2.5}, "key_dim"),
        ({"num_heads": 2, "key_dim": 2, "attention_axes": "1"}, "attention_axes"),
        (
            {"num_heads": 2, "key_dim": 2, "dropout": 0.1, "flash_attention": True},
            "dropout",
        ),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiHeadAttention(**kwargs)


def test_rejects_key_and_value_of_different_lengths():
    layer = MultiHeadAttention(num_heads=2, key_dim=2)
    with pytest.raises(ValueError, match="value.*key"):
        layer(Q, V, Q)


def test_scores_cannot_come_from_flash_attention():
    layer = MultiHeadAttention(num_heads=2, key_dim=2, flash_attention=True)
    with pytest.raises(ValueError, match="flash_attention"):
        layer(Q, V, return_attention_scores=True)
