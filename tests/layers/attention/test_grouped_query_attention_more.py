"""GroupQueryAttention against Keras 3."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina  # noqa: E402
from lamina import layers  # noqa: E402
from tests.layers._parity_more import (  # noqa: E402
    assert_config_matches_keras,
    assert_from_config_round_trip,
    assert_weights_match_keras,
    to_numpy,
)

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
QUERY = RNG.normal(size=(2, 4, 6)).astype("float32")
VALUE = RNG.normal(size=(2, 5, 6)).astype("float32")
KEY = RNG.normal(size=(2, 5, 3)).astype("float32")


def _pair(**kwargs):
    theirs = keras.layers.GroupQueryAttention(3, 4, 2, **kwargs)
    theirs(QUERY, VALUE, KEY)
    ours = layers.GroupQueryAttention(3, 4, 2, **kwargs)
    ours(QUERY, VALUE, KEY)
    assert_weights_match_keras(ours, theirs)
    return ours, theirs


def _close(a, b):
    np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"use_gate": True}, {"use_bias": False}, {"sliding_window": 2}],
)
def test_group_query_attention_matches_keras(kwargs):
    ours, theirs = _pair(**kwargs)
    _close(ours(QUERY, VALUE, KEY), theirs(QUERY, VALUE, KEY))
    out, scores = ours(QUERY, VALUE, KEY, return_attention_scores=True)
    k_out, k_scores = theirs(QUERY, VALUE, KEY, return_attention_scores=True)
    assert tuple(scores.shape) == (2, 4, 4, 5)
    _close(out, k_out)
    _close(scores, k_scores)
    assert_config_matches_keras(ours, theirs)


def test_group_query_attention_masks_match_keras():
    ours, theirs = _pair()
    value_mask = np.array([[1, 1, 0, 1, 1], [1, 1, 1, 0, 0]], bool)
    _close(
        ours(QUERY, VALUE, KEY, value_mask=value_mask),
        theirs(QUERY, VALUE, KEY, value_mask=value_mask),
    )
    attention_mask = RNG.random((2, 4, 5)) > 0.3
    attention_mask[..., 0] = True
    _close(
        ours(QUERY, VALUE, KEY, attention_mask=attention_mask),
        theirs(QUERY, VALUE, KEY, attention_mask=attention_mask),
    )
    # Self-attention: a layer whose key projection reads the query's features.
    theirs = keras.layers.GroupQueryAttention(3, 4, 2)
    theirs(QUERY, QUERY)
    ours = layers.GroupQueryAttention(3, 4, 2)
    ours(QUERY, QUERY)
    assert_weights_match_keras(ours, theirs)
    x = QUERY
    _close(ours(x, x, use_causal_mask=True), theirs(x, x, use_causal_mask=True))
    _close(
        ours(x, x, use_causal_mask=True, return_attention_scores=True)[1],
        theirs(x, x, use_causal_mask=True, return_attention_scores=True)[1],
    )


def test_group_query_attention_shares_each_key_value_head():
    layer = layers.GroupQueryAttention(2, 4, 1)
    _, scores = layer(QUERY, VALUE, return_attention_scores=True)
    assert tuple(layer._key_dense.kernel.shape) == (6, 1, 2)
    assert tuple(layer._query_dense.kernel.shape) == (6, 4, 2)
    np.testing.assert_allclose(to_numpy(scores).sum(-1), 1.0, rtol=1e-5)


def test_group_query_attention_dropout_only_in_training():
    layer = layers.GroupQueryAttention(3, 4, 2, dropout=0.5, seed=3)
    inference = to_numpy(layer(QUERY, VALUE))
    np.testing.assert_allclose(to_numpy(layer(QUERY, VALUE)), inference)
    assert not np.allclose(to_numpy(layer(QUERY, VALUE, training=True)), inference)


def test_group_query_attention_symbolic_config_and_file(tmp_path):
    query, value = lamina.Input((4, 6)), lamina.Input((5, 6))
    layer = layers.GroupQueryAttention(3, 4, 2)
    out, scores = layer(query, value, return_attention_scores=True)
    assert tuple(out.shape) == (None, 4, 6)
    assert tuple(scores.shape) == (None, 4, 4, 5)
    assert layer.name.startswith("grouped_query_attention")
    clone = assert_from_config_round_trip(layer)
    assert clone.num_key_value_heads == 2 and clone.name == layer.name

    model = lamina.Model([query, value], layer(query, value))
    expected = to_numpy(model([QUERY, VALUE]))
    path = str(tmp_path / "gqa.keras")
    model.save(path)
    loaded = lamina.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded([QUERY, VALUE])), expected, atol=1e-6)


def test_group_query_attention_files_move_between_keras_and_lamina(tmp_path):
    k_query, k_value = keras.Input((4, 6)), keras.Input((5, 6))
    theirs = keras.Model(
        [k_query, k_value], keras.layers.GroupQueryAttention(3, 4, 2)(k_query, k_value)
    )
    expected = to_numpy(theirs([QUERY, VALUE]))
    # A Keras .keras file (config names "GroupQueryAttention") loads in lamina.
    path = str(tmp_path / "keras_gqa.keras")
    theirs.save(path)
    loaded = lamina.saving.load_model(path)
    np.testing.assert_allclose(
        to_numpy(loaded([QUERY, VALUE])), expected, rtol=1e-5, atol=1e-5
    )
    # lamina's weights file loads into the Keras model (same group names).
    query, value = lamina.Input((4, 6)), lamina.Input((5, 6))
    ours = lamina.Model(
        [query, value], layers.GroupQueryAttention(3, 4, 2)(query, value)
    )
    weights_path = str(tmp_path / "gqa.weights.h5")
    ours.save_weights(weights_path)
    theirs.load_weights(weights_path)
    np.testing.assert_allclose(
        to_numpy(theirs([QUERY, VALUE])),
        to_numpy(ours([QUERY, VALUE])),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((3, 4, 3), {}, "divisible"),
        ((0, 4, 2), {}, "head_dim"),
        ((3, 4, 2), {"sliding_window": 0}, "sliding_window"),
        ((3, 4, 2), {"flash_attention": True, "dropout": 0.1}, "dropout"),
    ],
)
def test_group_query_attention_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.GroupQueryAttention(*args, **kwargs)


def test_group_query_attention_rejects_mismatched_feature_sizes():
    layer = layers.GroupQueryAttention(3, 4, 2)
    with pytest.raises(ValueError, match="same last axis"):
        layer(lamina.Input((4, 6)), lamina.Input((5, 7)))
