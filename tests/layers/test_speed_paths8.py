"""MultiHeadAttention's direct projections (helper-87).

Plain `EinsumDense` projections are computed inside `MultiHeadAttention.call`
(`_attention_utils.project`) instead of being called as layers. These tests pin
that the direct path gives the same numbers and gradients as calling the
projections, that it is really taken, and that a projection with anything the
layer call adds (LoRA, quantization, hooks, an activity regularizer, a mixed
policy) goes back to the layer call.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import lamina
from lamina.layers.attention import _attention_utils, multi_head_attention

RNG = np.random.default_rng(3)
Q = RNG.normal(size=(2, 5, 8)).astype("float32")
V = RNG.normal(size=(2, 7, 6)).astype("float32")


def _np(x):
    return x.detach().cpu().numpy()


@pytest.fixture
def count_direct(monkeypatch):
    """How many projections ran directly (the wrapped `project`)."""
    calls = []
    original = multi_head_attention.project

    def counting(layer, inputs):
        calls.append(layer.name)
        return original(layer, inputs)

    monkeypatch.setattr(multi_head_attention, "project", counting)
    return calls


def _through_layer_calls(layer, *args, **kwargs):
    """The layer's outputs with every projection called as a layer."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(multi_head_attention, "plain_projection", lambda _: False)
        return layer(*args, **kwargs)


def _layer(**kwargs):
    kwargs.setdefault("bias_initializer", "random_normal")
    return lamina.layers.MultiHeadAttention(**kwargs)


CASES = {
    "self": (dict(num_heads=2, key_dim=4), (Q, Q), {}),
    "cross": (dict(num_heads=3, key_dim=2, value_dim=5), (Q, V), {}),
    "key": (dict(num_heads=2, key_dim=3), (Q, V, V[..., ::-1].copy()), {}),
    "no bias": (dict(num_heads=2, key_dim=4, use_bias=False), (Q, V), {}),
    "output_shape": (dict(num_heads=2, key_dim=4, output_shape=(3, 2)), (Q, V), {}),
    "gate": (dict(num_heads=2, key_dim=4, use_gate=True), (Q, V), {}),
    "causal": (dict(num_heads=2, key_dim=4), (Q, Q), {"use_causal_mask": True}),
    "scores": (dict(num_heads=2, key_dim=4), (Q, V), {"return_attention_scores": True}),
    "mask": (
        dict(num_heads=2, key_dim=4),
        (Q, V),
        {"attention_mask": RNG.random((2, 5, 7)) > 0.3},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_direct_projections_match_layer_calls_and_gradients(case, count_direct):
    config, args, kwargs = CASES[case]
    layer = _layer(**config)
    expected = _through_layer_calls(layer, *args, **kwargs)
    assert count_direct == []
    got = layer(*args, **kwargs)
    assert count_direct == ["query", "key", "value", "attention_output"]
    for e, g in zip(
        expected if isinstance(expected, tuple) else (expected,),
        got if isinstance(got, tuple) else (got,),
    ):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_array_equal(_np(g), _np(e))  # the same GEMMs: exact
    if case == "output_shape":
        assert tuple(got.shape) == (2, 5, 3, 2)

    def grads(fn):
        layer.zero_grad(set_to_none=True)
        out = fn(layer, *args, **kwargs)
        out = out[0] if isinstance(out, tuple) else out
        (out * torch.linspace(-1, 1, out.shape[-1], device=out.device)).sum().backward()
        return [_np(w.value.grad) for w in layer.trainable_weights]

    expected_grads = grads(_through_layer_calls)
    got_grads = grads(lambda layer, *a, **k: layer(*a, **k))
    for e, g in zip(expected_grads, got_grads):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)


def test_higher_rank_inputs_with_attention_axes(count_direct):
    x = RNG.normal(size=(2, 3, 4, 6)).astype("float32")
    layer = _layer(num_heads=2, key_dim=3, attention_axes=(2,))
    expected = _through_layer_calls(layer, x, x)
    got = layer(x, x)
    assert len(count_direct) == 4
    np.testing.assert_array_equal(_np(got), _np(expected))


def test_keras_masks_from_embedding_are_kept(count_direct):
    tokens = np.array([[3, 4, 0, 0], [5, 0, 0, 0]])
    embedded = lamina.layers.Embedding(10, 8, mask_zero=True)(tokens)
    layer = _layer(num_heads=2, key_dim=4)
    expected = _through_layer_calls(layer, embedded, embedded)
    got = layer(embedded, embedded)
    assert len(count_direct) == 4
    np.testing.assert_array_equal(_np(got), _np(expected))
    np.testing.assert_array_equal(_np(got._keras_mask), tokens != 0)


def test_seeded_dropout_in_training_and_none_at_inference(count_direct):
    # Two layers with the same seed and weights draw the same dropout masks.
    layer, twin = (
        _layer(num_heads=2, key_dim=4, dropout=0.5, seed=7) for _ in range(2)
    )
    layer(Q, Q, training=False)
    twin(Q, Q, training=False)
    twin.set_weights(layer.get_weights())
    count_direct.clear()
    expected = _through_layer_calls(twin, Q, Q, training=True)
    got = layer(Q, Q, training=True)
    assert len(count_direct) == 4
    np.testing.assert_array_equal(_np(got), _np(expected))
    inference = layer(Q, Q, training=False)
    assert not np.allclose(_np(got), _np(inference))
    np.testing.assert_array_equal(
        _np(inference), _np(_through_layer_calls(layer, Q, Q))
    )


def test_inside_a_model_fit_takes_the_direct_path(count_direct):
    inputs = lamina.Input((5, 8))
    x = _layer(num_heads=2, key_dim=4)(inputs, inputs)
    outputs = lamina.layers.Dense(1)(lamina.layers.GlobalAveragePooling1D()(x))
    model = lamina.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(Q, np.ones((2, 1), "float32"), epochs=1, verbose=0)
    assert len(count_direct) >= 4
    assert all(not np.array_equal(b, a) for b, a in zip(before, model.get_weights()))


def test_lora_projection_goes_back_to_the_layer_call(count_direct):
    layer = _layer(num_heads=2, key_dim=4)
    before = _np(layer(Q, V))
    count_direct.clear()
    layer.query_dense.enable_lora(2, b_initializer="ones")
    got = layer(Q, V)
    assert count_direct == []  # every projection is called as a layer again
    assert not np.allclose(_np(got), before)
    np.testing.assert_array_equal(_np(got), _np(_through_layer_calls(layer, Q, V)))


def test_int8_projection_goes_back_to_the_layer_call(count_direct):
    layer = _layer(num_heads=2, key_dim=4)
    before = _np(layer(Q, V))
    count_direct.clear()
    layer.value_dense.quantize("int8")
    got = layer(Q, V)
    assert count_direct == []
    np.testing.assert_allclose(_np(got), before, atol=0.05)
    assert not np.array_equal(_np(got), before)


def test_hooks_and_activity_regularizer_see_every_projection(count_direct):
    layer = _layer(num_heads=2, key_dim=4)
    layer(Q, V)
    count_direct.clear()
    seen = []
    handle = layer.key_dense.register_forward_hook(lambda m, a, out: seen.append(m))
    layer(Q, V)
    handle.remove()
    assert seen == [layer.key_dense]
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda m, a, out: seen.append(m)
    )
    try:
        layer(Q, V)
    finally:
        handle.remove()
    assert layer.output_dense in seen
    assert count_direct == []
    regularized = _layer(num_heads=2, key_dim=4, activity_regularizer="l2")
    regularized(Q, V)
    assert len(regularized.losses) == 4  # one per projection
    assert count_direct == []


def test_mixed_precision_policy_keeps_the_layer_call(count_direct):
    layer = _layer(num_heads=2, key_dim=4, dtype="mixed_bfloat16")
    out = layer(Q, V)
    assert out.dtype == torch.bfloat16
    assert count_direct == []


def test_float64_layer_takes_the_direct_path(count_direct):
    layer = _layer(num_heads=2, key_dim=4, dtype="float64")
    out = layer(Q, V)
    assert out.dtype == torch.float64
    assert len(count_direct) == 4
    np.testing.assert_array_equal(_np(out), _np(_through_layer_calls(layer, Q, V)))


def test_plain_projection_rules():
    dense = lamina.layers.EinsumDense(
        "abc,cd->abd", output_shape=(None, 4), bias_axes="d"
    )
    dense.build((2, 3, 5))
    assert _attention_utils.plain_projection(dense)
    partial_bias = lamina.layers.EinsumDense(
        "abc,cde->abde", output_shape=(None, 2, 4), bias_axes="e"
    )
    partial_bias.build((2, 3, 5))
    assert not _attention_utils.plain_projection(partial_bias)
    activated = lamina.layers.EinsumDense(
        "abc,cd->abd", output_shape=(None, 4), activation="relu"
    )
    activated.build((2, 3, 5))
    assert not _attention_utils.plain_projection(activated)

    class Custom(lamina.layers.EinsumDense):
        pass

    custom = Custom("abc,cd->abd", output_shape=(None, 4))
    custom.build((2, 3, 5))
    assert not _attention_utils.plain_projection(custom)


def test_matches_keras_with_the_same_weights():
    keras = pytest.importorskip("keras")
    mine = _layer(num_heads=2, key_dim=4, output_shape=(3, 2))
    theirs = keras.layers.MultiHeadAttention(
        num_heads=2, key_dim=4, output_shape=(3, 2)
    )
    mine(Q, V)
    theirs(Q, V)
    theirs.set_weights(mine.get_weights())
    mask = RNG.random((2, 5, 7)) > 0.3
    got = mine(Q, V, attention_mask=mask)
    expected = theirs(Q, V, attention_mask=mask)
    np.testing.assert_allclose(
        _np(got), np.asarray(expected.detach().cpu()), rtol=1e-5, atol=1e-5
    )


# --- LayerNormalization's fused fast path ----------------------------------------


def _layer_norm_both_ways(layer, x):
    """(fast-path outputs, general-path outputs) and their input gradients."""
    results = []
    for fast in (True, False):
        layer._fast = fast
        xt = torch.as_tensor(x).clone().requires_grad_()
        out = layer(xt)
        weight = torch.linspace(-1, 1, out.shape[-1], device=out.device)
        (out.float() * weight).sum().backward()
        results.append((out, xt.grad))
    return results


@pytest.mark.parametrize(
    "kwargs, dtype",
    [
        ({}, "float32"),
        ({"center": False}, "float32"),
        ({"scale": False, "center": False}, "float32"),
        ({"axis": [-2, -1], "gamma_initializer": "random_normal"}, "float32"),
        ({"beta_initializer": "random_normal"}, "float64"),
    ],
)
def test_layer_norm_fast_path_matches_the_general_one(kwargs, dtype):
    x = RNG.normal(size=(3, 4, 6)).astype(dtype)
    layer = lamina.layers.LayerNormalization(epsilon=1e-5, dtype=dtype, **kwargs)
    layer(x)
    assert layer._fast
    (fast, fast_grad), (general, general_grad) = _layer_norm_both_ways(layer, x)
    assert fast.dtype == general.dtype == getattr(torch, dtype)
    np.testing.assert_array_equal(_np(fast), _np(general))
    np.testing.assert_array_equal(_np(fast_grad), _np(general_grad))
    # and the values are a layer norm over the axes
    axes = tuple(range(x.ndim - len(layer._axes), x.ndim))
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5)
    if layer.gamma is not None:
        expected = expected * _np(layer.gamma.value)
    if layer.beta is not None:
        expected = expected + _np(layer.beta.value)
    np.testing.assert_allclose(_np(fast), expected, rtol=1e-4, atol=1e-5)


def test_layer_norm_slow_cases_keep_the_general_path():
    x = RNG.normal(size=(3, 4, 6)).astype("float32")
    first_axis = lamina.layers.LayerNormalization(axis=1)
    first_axis(x)
    assert not first_axis._fast  # not trailing axes
    with pytest.warns(UserWarning, match="rms_scaling"):
        rms = lamina.layers.LayerNormalization(rms_scaling=True)
    rms(x)
    assert not rms._fast
    mixed = lamina.layers.LayerNormalization(dtype="mixed_bfloat16")
    out = mixed(x.astype("float32"))
    assert not mixed._fast and out.dtype == torch.bfloat16
    plain = lamina.layers.LayerNormalization()
    plain(x)
    # float64 inputs into a float32 layer: computed in float64, cast back
    out = plain(x.astype("float64"))
    assert out.dtype == torch.float32
    np.testing.assert_allclose(_np(out), _np(plain(x)), rtol=1e-5, atol=1e-6)
