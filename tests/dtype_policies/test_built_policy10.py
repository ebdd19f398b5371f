"""Dtype policies set on built layers and models, and bad policy arguments,
compared with Keras 3 on its torch backend (session 10)."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina import dtype_policies

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(autouse=True)
def _float32_global_policy():
    yield
    lamina.config.set_dtype_policy("float32")


def _inputs(shape):
    return np.random.RandomState(0).rand(*shape).astype("float32")


def _mha(lib, dtype):
    return lib.layers.MultiHeadAttention(
        2, 3, dtype=dtype, kernel_initializer="ones", bias_initializer="zeros"
    )


_POLICIES = ["float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16"]


@pytest.mark.parametrize(
    "built_dtype, policy",
    [(b, p) for b in ("float32", "float16") for p in _POLICIES if p != b],
)
def test_multi_head_attention_policy_set_after_build(built_dtype, policy):
    # The projections keep the policy they were built with (as in Keras):
    # they cast the inputs back, so the output has their dtype.
    x = _inputs((2, 3, 4))
    layer = _mha(lamina, built_dtype)
    layer(x, x)
    layer.dtype_policy = policy
    out = layer(x, x)
    assert out.dtype == lamina.backend.to_torch_dtype(built_dtype)
    assert layer.compute_dtype == dtype_policies.get(policy).compute_dtype
    assert {w.dtype for w in layer.weights} == {
        lamina.backend.to_torch_dtype(built_dtype)
    }
    keras = pytest.importorskip("keras")
    theirs = _mha(keras, built_dtype)
    theirs(x, x)
    theirs.dtype_policy = policy
    expected = theirs(x, x)
    assert str(expected.dtype) == str(out.dtype)
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(out.float()),
        lamina.ops.convert_to_numpy(expected.float()),
        rtol=2e-2,
        atol=2e-2,
    )


def _functional(lib):
    inputs = lib.Input((4,))
    hidden = lib.layers.Dense(8, kernel_initializer="ones")(inputs)
    return lib.Model(inputs, lib.layers.Dense(3, kernel_initializer="ones")(hidden))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_policy_on_built_model_leaves_float32_layers_in_float32(policy):
    # A model holds no weights of its own: its layers compute with their own
    # (float32) policies, so the output stays float32 and unrounded.
    x = _inputs((2, 4))
    model = _functional(lamina)
    expected = lamina.ops.convert_to_numpy(model(x))
    model.dtype_policy = policy
    out = model(x)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(lamina.ops.convert_to_numpy(out), expected, rtol=1e-6)
    assert model.predict(x, verbose=0).dtype == np.float32
    assert model.compute_dtype == policy.removeprefix("mixed_")


def test_mixed_policy_on_built_sequential_and_wrapper_layer():
    x = _inputs((2, 4))
    seq = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3)])
    seq(x)
    seq.dtype_policy = "mixed_float16"
    assert seq(x).dtype == torch.float32

    class Wrap(lamina.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = lamina.layers.Dense(3)

        def call(self, inputs):
            return self.inner(inputs) * 2

    wrap = Wrap()
    wrap(x)
    wrap.dtype_policy = "mixed_bfloat16"
    assert wrap(x).dtype == torch.float32


def test_mixed_policy_on_built_model_of_mixed_layers_still_mixed():
    # Every layer already mixed: the model's own autocast region serves them.
    lamina.config.set_dtype_policy("mixed_bfloat16")
    model = _functional(lamina)
    lamina.config.set_dtype_policy("float32")
    x = _inputs((2, 4))
    model.dtype_policy = "mixed_bfloat16"
    assert model._mixed
    assert model(x).dtype == torch.bfloat16
    assert {w.dtype for w in model.weights} == {torch.float32}


def test_mixed_policy_on_built_layer_with_own_weights_autocasts():
    layer = lamina.layers.Dense(3, kernel_initializer="ones")
    x = _inputs((2, 4))
    layer(x)
    layer.dtype_policy = "mixed_bfloat16"
    out = layer(x)
    assert out.dtype == torch.bfloat16
    assert layer.kernel.dtype == torch.float32
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(out.float()),
        x.sum(-1, keepdims=True).repeat(3, -1),
        rtol=2e-2,
    )


@pytest.mark.parametrize("bad", [123, 1.5, [1]])
def test_get_bad_identifier_is_value_error(bad):
    # Keras raises ValueError("Cannot interpret `dtype` argument. ...").
    with pytest.raises(ValueError, match="Cannot interpret `dtype` argument"):
        dtype_policies.get(bad)
    with pytest.raises(ValueError, match="Cannot interpret `dtype` argument"):
        lamina.layers.Dense(3, dtype=bad)


@pytest.mark.parametrize(
    "bad", [123, {"class_name": "DTypePolicy", "config": {"name": "float16"}}]
)
def test_set_dtype_policy_takes_names_and_policies_only(bad):
    with pytest.raises(ValueError, match="Invalid `policy` argument"):
        lamina.config.set_dtype_policy(bad)
    assert lamina.config.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match="Cannot convert"):
        lamina.config.set_dtype_policy("float17")
    lamina.config.set_dtype_policy(dtype_policies.DTypePolicy("bfloat16"))
    assert lamina.config.dtype_policy().name == "bfloat16"


def test_policy_map_bad_value_message():
    policy_map = dtype_policies.DTypePolicyMap()
    with pytest.raises(ValueError, match="Cannot interpret the assigned value"):
        policy_map["layer/dense"] = 123
    assert "layer/dense" not in policy_map


def test_gptq_policy_on_built_layer_message():
    layer = lamina.layers.Dense(3)
    layer.build((None, 4))
    with pytest.raises(
        ValueError, match="Implicitly enabling GPTQ quantization.*is not supported"
    ):
        layer.dtype_policy = "gptq/4/-1_from_float32"
    assert layer.dtype_policy.name == "float32"


def _additive(lib, dtype):
    layer = lib.layers.AdditiveAttention(dtype=dtype)
    x = _inputs((2, 3, 4))
    layer([x, x])
    layer.set_weights([np.linspace(-1.0, 1.0, 4).astype(dtype)])
    return layer


@pytest.mark.parametrize(
    "built_dtype, policy, expected",
    [
        ("float32", "float16", "float32"),
        ("float32", "bfloat16", "float32"),
        ("float16", "float32", "float32"),
        ("float16", "bfloat16", "float32"),
        ("float32", "mixed_float16", "float16"),
        ("float16", "mixed_bfloat16", "bfloat16"),
    ],
)
def test_additive_attention_policy_set_after_build(built_dtype, policy, expected):
    # Keras: the float16 inputs meet the float32 `scale` in a product that
    # promotes, so a plain policy gives float32 scores and outputs; a mixed
    # policy reads `scale` in the compute dtype.
    x = _inputs((2, 3, 4))
    mask = np.random.RandomState(1).rand(2, 3) > 0.3
    layer = _additive(lamina, built_dtype)
    layer.dtype_policy = policy
    out, scores = layer([x, x], mask=[None, mask], return_attention_scores=True)
    assert out.dtype == scores.dtype == lamina.backend.to_torch_dtype(expected)
    assert layer.scale.dtype == lamina.backend.to_torch_dtype(built_dtype)
    keras = pytest.importorskip("keras")
    theirs = _additive(keras, built_dtype)
    theirs.dtype_policy = policy
    want, want_scores = theirs([x, x], mask=[None, mask], return_attention_scores=True)
    assert str(want.dtype) == str(out.dtype)
    for ours, ref in ((out, want), (scores, want_scores)):
        np.testing.assert_allclose(
            lamina.ops.convert_to_numpy(ours.float()),
            lamina.ops.convert_to_numpy(ref.float()),
            rtol=2e-2,
            atol=2e-2,
        )
