import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.backend import convert_to_numpy  # noqa: E402
from lamina.layers.attention.additive_attention import AdditiveAttention  # noqa: E402
from lamina.layers.attention.attention import Attention  # noqa: E402
from lamina.layers.attention.multi_head_attention import MultiHeadAttention  # noqa: E402
from lamina.layers.core.einsum_dense import EinsumDense  # noqa: E402

RNG = np.random.default_rng(3)
Q = RNG.normal(size=(2, 4, 6)).astype("float32")
V = RNG.normal(size=(2, 5, 6)).astype("float32")
K = RNG.normal(size=(2, 5, 3)).astype("float32")
ATTENTION_MASK = RNG.random((2, 4, 5)) > 0.3
PADDING = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)


def _np(x):
    return np.asarray(x.detach().cpu().numpy())


def _keras_weights(layer):
    # Not get_weights(): Keras 3.15's Variable.__array__ warns under NumPy 2.
    return [convert_to_numpy(v.value) for v in layer.weights]


def _tensors(values):
    return [torch.tensor(v) if isinstance(v, np.ndarray) else v for v in values]


def _pair(k_cls, l_cls, kwargs, build_args):
    k_layer, l_layer = k_cls(**kwargs), l_cls(**kwargs)
    k_layer(*_tensors(build_args))
    l_layer(*build_args)
    weights = _keras_weights(k_layer)
    assert [w.shape for w in weights] == [tuple(w.shape) for w in l_layer.weights]
    l_layer.set_weights(weights)
    assert l_layer.count_params() == k_layer.count_params()
    return k_layer, l_layer


def _assert_same(k_out, l_out):
    if isinstance(k_out, tuple):
        for a, b in zip(k_out, l_out):
            np.testing.assert_allclose(_np(b), _np(a), rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_allclose(_np(l_out), _np(k_out), rtol=1e-5, atol=1e-5)


def _assert_same_config(k_layer, l_layer):
    k_config, l_config = k_layer.get_config(), l_layer.get_config()
    assert set(k_config) == set(l_config)
    for key in set(k_config) - {"name", "dtype"}:
        assert l_config[key] == k_config[key], key


MHA_CASES = [
    ({"num_heads": 2, "key_dim": 3}, (Q, Q), {}),
    ({"num_heads": 2, "key_dim": 3, "value_dim": 4, "output_shape": 7}, (Q, V, K), {}),
    ({"num_heads": 2, "key_dim": 3}, (Q, V), {"attention_mask": ATTENTION_MASK}),
    ({"num_heads": 2, "key_dim": 3}, (Q, Q), {"use_causal_mask": True}),
    (
        {"num_heads": 2, "key_dim": 3},
        (Q, V),
        {"use_causal_mask": True, "attention_mask": ATTENTION_MASK},
    ),
    ({"num_heads": 3, "key_dim": 2}, (Q, V), {"return_attention_scores": True}),
    (
        {"num_heads": 2, "key_dim": 3, "dropout": 0.5},
        (Q, Q),
        {"return_attention_scores": True, "use_causal_mask": True},
    ),
    ({"num_heads": 2, "key_dim": 3, "use_bias": False, "use_gate": True}, (Q, V), {}),
    ({"num_heads": 2, "key_dim": 3, "sliding_window": 2}, (Q, Q), {}),
    (
        {"num_heads": 2, "key_dim": 2, "attention_axes": (2,)},
        (Q.reshape(2, 4, 2, 3), Q.reshape(2, 4, 2, 3)),
        {"return_attention_scores": True},
    ),
]


@pytest.mark.parametrize("kwargs, args, call_kwargs", MHA_CASES)
def test_multi_head_attention_matches_keras(kwargs, args, call_kwargs):
    k_layer, l_layer = _pair(
        keras.layers.MultiHeadAttention, MultiHeadAttention, kwargs, args
    )
    # On Keras's device: Keras moves its inputs there, not its masks.
    k_call = {
        k: keras.ops.convert_to_tensor(v) if isinstance(v, np.ndarray) else v
        for k, v in call_kwargs.items()
    }
    _assert_same(k_layer(*_tensors(args), **k_call), l_layer(*args, **call_kwargs))
    _assert_same_config(k_layer, l_layer)


@pytest.mark.parametrize("return_scores", [False, True])
def test_multi_head_attention_keras_masks_match(return_scores):
    # Padded positions (a mask_zero Embedding's mask) on query and value,
    # including fully masked query rows.
    k_layer, l_layer = _pair(
        keras.layers.MultiHeadAttention,
        MultiHeadAttention,
        {"num_heads": 2, "key_dim": 3},
        (Q, Q),
    )
    outs = []
    for layer in (k_layer, l_layer):
        x = torch.tensor(Q)
        x._keras_mask = torch.tensor(PADDING)
        outs.append(layer(x, x, return_attention_scores=return_scores))
    _assert_same(*outs)


def test_einsum_dense_matches_keras():
    for equation, shape, bias in [
        ("abc,cde->abde", (None, 2, 3), "de"),
        ("abcd,cde->abe", (None, 4), "e"),
    ]:
        x = RNG.normal(size=(2, 3, 2, 3) if equation.startswith("abcd") else (2, 3, 5))
        x = x.astype("float32")
        k_layer, l_layer = _pair(
            keras.layers.EinsumDense,
            EinsumDense,
            {"equation": equation, "output_shape": shape, "bias_axes": bias},
            (x,),
        )
        _assert_same(k_layer(torch.tensor(x)), l_layer(x))
        _assert_same_config(k_layer, l_layer)


ATTENTION_CASES = [
    (keras.layers.Attention, Attention, {}),
    (keras.layers.Attention, Attention, {"use_scale": True}),
    (keras.layers.Attention, Attention, {"score_mode": "concat", "use_scale": True}),
    (keras.layers.AdditiveAttention, AdditiveAttention, {}),
    (keras.layers.AdditiveAttention, AdditiveAttention, {"use_scale": False}),
]
CALLS = [
    {},
    {
        "mask": [
            np.array([[1, 1, 0, 1]] * 2, bool),
            np.array([[1, 1, 0, 0, 0], [0] * 5], bool),
        ]
    },
    {"use_causal_mask": True, "return_attention_scores": True},
    {"return_attention_scores": True},
]


@pytest.mark.parametrize("k_cls, l_cls, kwargs", ATTENTION_CASES)
def test_attention_layers_match_keras(k_cls, l_cls, kwargs):
    value = V[:, :, :6]
    k_layer, l_layer = _pair(k_cls, l_cls, kwargs, ([Q, value, V],))
    weights = [
        RNG.normal(size=np.shape(w)).astype("float32") for w in _keras_weights(k_layer)
    ]
    k_layer.set_weights(weights)
    l_layer.set_weights(weights)
    for inputs in ([Q, value], [Q, value, V]):
        for call in CALLS:
            k_call = {
                k: [torch.tensor(m) for m in v] if k == "mask" else v
                for k, v in call.items()
            }
            _assert_same(k_layer(_tensors(inputs), **k_call), l_layer(inputs, **call))
    _assert_same_config(k_layer, l_layer)
