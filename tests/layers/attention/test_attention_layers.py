import numpy as np
import pytest
import torch

import lamina
from lamina.layers.attention.additive_attention import AdditiveAttention
from lamina.layers.attention.attention import Attention

RNG = np.random.default_rng(1)
Q = RNG.normal(size=(2, 3, 4)).astype("float32")
V = RNG.normal(size=(2, 5, 4)).astype("float32")
K = RNG.normal(size=(2, 5, 4)).astype("float32")


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np(x):
    return x.detach().cpu().numpy()


def test_dot_attention_is_softmax_of_dot_products_times_value():
    out, scores = Attention()([Q, V, K], return_attention_scores=True)
    probs = _softmax(Q @ K.transpose(0, 2, 1))
    np.testing.assert_allclose(_np(scores), probs, rtol=1e-5)
    np.testing.assert_allclose(_np(out), probs @ V, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        _np(Attention()([Q, V, K])), probs @ V, rtol=1e-5, atol=1e-6
    )


def test_use_scale_and_concat_mode_have_keras_weights():
    layer = Attention(use_scale=True, score_mode="concat")
    layer([Q, V])
    assert [(w.path, tuple(w.shape)) for w in layer.weights] == [
        ("attention/scale", ()),
        ("attention/concat_score_weight", ()),
    ]
    layer.set_weights([np.array(2.0), np.array(0.5)])
    _, scores = layer([Q, V], return_attention_scores=True)
    raw = 0.5 * np.tanh(2.0 * (Q[:, :, None] + V[:, None])).sum(-1)
    np.testing.assert_allclose(_np(scores), _softmax(raw), rtol=1e-5)


def test_value_mask_and_query_mask():
    q_mask = np.array([[True, True, False], [True, True, True]])
    v_mask = np.array([[True, True, False, False, False], [True] * 5])
    out, scores = Attention()(
        [Q, V], mask=[q_mask, v_mask], return_attention_scores=True
    )
    assert np.all(_np(scores)[0, :, 2:] < 1e-6)
    assert np.all(_np(out)[0, 2] == 0.0)
    expected = _softmax(Q[0] @ V[0, :2].T) @ V[0, :2]
    np.testing.assert_allclose(_np(out)[0, :2], expected[:2], rtol=1e-5, atol=1e-6)
    fused = Attention()([Q, V], mask=[q_mask, v_mask])
    np.testing.assert_allclose(_np(fused), _np(out), rtol=1e-5, atol=1e-6)


def test_masks_come_from_the_inputs_and_the_query_mask_travels():
    q, v = torch.tensor(Q), torch.tensor(V)
    q._keras_mask = torch.tensor([[True, False, True], [True, True, True]])
    v._keras_mask = torch.tensor([[True, True, True, True, False]] * 2)
    out = Attention()([q, v])
    assert torch.equal(out._keras_mask.cpu(), q._keras_mask)
    assert np.all(_np(out)[0, 1] == 0.0)


def test_causal_mask():
    _, scores = Attention()([Q, Q], use_causal_mask=True, return_attention_scores=True)
    assert np.all(_np(scores)[:, np.triu(np.ones((3, 3), bool), 1)] < 1e-6)


def test_dropout_only_in_training_and_seeded():
    a, b = Attention(dropout=0.5, seed=2), Attention(dropout=0.5, seed=2)
    np.testing.assert_allclose(_np(a([Q, V])), _np(Attention()([Q, V])), rtol=1e-6)
    np.testing.assert_allclose(
        _np(a([Q, V], training=True)), _np(b([Q, V], training=True))
    )


def test_additive_attention_scores():
    layer = AdditiveAttention()
    layer([Q, V])
    assert [tuple(w.shape) for w in layer.weights] == [(4,)]
    scale = np.array([1.0, -1.0, 0.5, 2.0], "float32")
    layer.set_weights([scale])
    _, scores = layer([Q, V], return_attention_scores=True)
    raw = (scale * np.tanh(Q[:, :, None] + V[:, None])).sum(-1)
    np.testing.assert_allclose(_np(scores), _softmax(raw), rtol=1e-5)
    assert AdditiveAttention(use_scale=False)([Q, V]).shape == (2, 3, 4)


def test_configs_round_trip():
    layer = Attention(use_scale=True, score_mode="concat", dropout=0.2, seed=4)
    assert Attention.from_config(layer.get_config()).get_config() == layer.get_config()
    additive = AdditiveAttention(use_scale=False, dropout=0.1, seed=3)
    config = additive.get_config()
    assert "score_mode" not in config and config["seed"] == 3
    assert AdditiveAttention.from_config(config).get_config() == config


def test_symbolic_shapes():
    q, v = lamina.Input((3, 4)), lamina.Input((5, 4))
    assert Attention()([q, v]).shape == (None, 3, 4)
    out, scores = AdditiveAttention()([q, v], return_attention_scores=True)
    assert (out.shape, scores.shape) == ((None, 3, 4), (None, 3, 5))


def test_errors():
    with pytest.raises(ValueError, match="score_mode"):
        Attention(score_mode="add")
    with pytest.raises(ValueError, match="list"):
        Attention()(Q)
    with pytest.raises(ValueError, match="2 or 3"):
        Attention()([Q])
    with pytest.raises(ValueError, match="mask"):
        Attention()([Q, V], mask=[np.ones((2, 3), bool)])
