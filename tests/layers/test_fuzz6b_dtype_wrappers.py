"""Regressions from differential fuzzing against Keras 3 (recurrent and attention
layers): wrappers and list-input layers whose dtype differs from their inputs'
or their wrapped layer's."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lamina import layers  # noqa: E402

X = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")


@pytest.mark.parametrize("dtype", ["float16", "float64", "bfloat16"])
def test_bidirectional_merges_in_its_own_compute_dtype(dtype):
    # Keras casts both directions' outputs to the wrapper's compute dtype; the
    # wrapped layers (float32 here) keep their own, and so do the states.
    layer = layers.Bidirectional(layers.LSTM(2, return_state=True), dtype=dtype)
    output, *states = layer(X)
    assert output.dtype == getattr(torch, dtype)
    assert tuple(output.shape) == (2, 4)
    assert [s.dtype for s in states] == [torch.float32] * 4


def test_bidirectional_float64_output_equals_the_float32_one():
    # Same weights and inputs, so the float64 wrapper only casts the merge.
    wide = layers.Bidirectional(layers.GRU(3, return_sequences=True), dtype="float64")
    narrow = layers.Bidirectional(layers.GRU(3, return_sequences=True))
    narrow(X)
    wide(X)
    wide.set_weights(narrow.get_weights())
    got = wide(X)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(
        got.detach().cpu().numpy(),
        narrow(X).detach().cpu().numpy(),
        rtol=1e-6,
        atol=1e-6,
    )


@pytest.mark.parametrize("dtype", ["float16", "float64", "bfloat16"])
def test_time_distributed_of_another_dtype_runs_its_layer_in_that_layers_dtype(dtype):
    # Used to fail with "mat1 and mat2 must have the same dtype": the wrapper
    # cast the inputs to its own dtype and called the float32 Dense directly.
    # Keras promotes to the kernel's dtype and returns float32.
    layer = layers.TimeDistributed(
        layers.Dense(2, kernel_initializer="ones"), dtype=dtype
    )
    out = layer(X)
    assert out.dtype == torch.float32
    assert tuple(out.shape) == (2, 4, 2)
    expected = X.astype(dtype if dtype != "bfloat16" else "float32").sum(-1)
    np.testing.assert_allclose(out.detach().cpu().numpy()[..., 0], expected, rtol=1e-2)


def test_time_distributed_keeps_a_mixed_wrapped_layer_working():
    layer = layers.TimeDistributed(layers.Dense(2, dtype="mixed_bfloat16"))
    assert layer(X).dtype == torch.float32
    conv = layers.TimeDistributed(layers.Conv2D(2, 3), dtype="float16")
    images = np.zeros((2, 3, 5, 5, 2), "float32")
    assert tuple(conv(images).shape) == (2, 3, 3, 3, 2)


@pytest.mark.parametrize("cls", ["Attention", "AdditiveAttention"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_attention_casts_every_list_input_to_its_compute_dtype(cls, dtype):
    # Keras casts each float tensor of the list; AdditiveAttention with
    # use_scale used to raise (float32 inputs against a float16 scale) and
    # Attention returned float32.
    layer = getattr(layers, cls)(dtype=dtype, use_scale=True)
    x = torch.tensor(X)
    output, scores = layer([x, x, x], return_attention_scores=True)
    assert output.dtype == getattr(torch, dtype)
    assert scores.dtype == getattr(torch, dtype)
    reference = getattr(layers, cls)(use_scale=True)
    reference([x, x, x])
    layer.set_weights(reference.get_weights())
    np.testing.assert_allclose(
        layer([x, x]).float().detach().cpu().numpy(),
        reference([x, x]).detach().cpu().numpy(),
        atol=5e-2,
    )


def test_attention_keras_parity_for_float16_lists():
    keras = pytest.importorskip("keras")
    ours = layers.Attention(dtype="float16", score_mode="concat")
    theirs = keras.layers.Attention(dtype="float16", score_mode="concat")
    x = torch.tensor(X)
    theirs([x, x])
    ours([x, x])
    ours.set_weights([w.value.detach().cpu().numpy() for w in theirs.weights])
    got = ours([x, x])
    want = keras.ops.convert_to_numpy(theirs([x, x]))
    assert got.dtype == torch.float16
    assert str(want.dtype) == "float16"
    np.testing.assert_allclose(got.detach().cpu().numpy(), want, atol=1e-3)
