"""Regressions found by differential fuzzing of layers against Keras 3 (round 6a)."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


# --- merging layers under a dtype policy ----------------------------------------


@pytest.mark.parametrize(
    "cls", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]
)
@pytest.mark.parametrize("policy", ["float16", "bfloat16", "mixed_bfloat16"])
def test_elementwise_merge_computes_in_the_policy_dtype(cls, policy):
    layer = getattr(layers, cls)(dtype=policy)
    x, y = _x(2, 3), _x(2, 3, seed=1)
    out = layer([x, y])
    assert out.dtype == getattr(torch, policy.replace("mixed_", ""))


@pytest.mark.parametrize("policy", ["float16", "mixed_float16"])
def test_concatenate_and_dot_compute_in_the_policy_dtype(policy):
    x = _x(2, 3)
    assert layers.Concatenate(dtype=policy)([x, x]).dtype == torch.float16
    assert layers.Dot(axes=1, dtype=policy)([x, x]).dtype == torch.float16


def test_merge_cast_keeps_the_keras_mask_of_each_input():
    x = torch.ones(2, 3)
    x._keras_mask = torch.tensor([True, False])
    y = torch.ones(2, 3)
    y._keras_mask = torch.tensor([False, False])
    out = layers.Add(dtype="float16")([x, y])
    assert out.dtype == torch.float16
    assert out._keras_mask.tolist() == [True, False]


@pytest.mark.parametrize("cls", ["Add", "Subtract", "Maximum"])
def test_elementwise_merge_config_holds_a_serialized_policy(cls):
    config = getattr(layers, cls)(dtype="bfloat16", name="m").get_config()
    assert config["dtype"]["class_name"] == "DTypePolicy"
    assert config["dtype"]["config"] == {"name": "bfloat16"}
    restored = getattr(layers, cls).from_config(config)
    assert restored.dtype_policy.name == "bfloat16"


@pytest.mark.parametrize("axes", [1, -1, (1, 1), [2, 2]])
def test_dot_config_keeps_axes_as_given(axes):
    layer = layers.Dot(axes=axes)
    assert layer.get_config()["axes"] == axes
    assert layers.Dot.from_config(layer.get_config()).get_config()["axes"] == axes


def test_dot_with_int_axes_still_contracts_both_inputs():
    x = np.arange(6, dtype="float32").reshape(2, 3)
    out = layers.Dot(axes=1)([x, x])
    np.testing.assert_allclose(out.cpu().numpy(), (x * x).sum(1, keepdims=True))


def test_elementwise_merge_leaves_unknown_non_batch_sizes_unknown():
    # Keras: None on any input's non-batch axis gives None in the output.
    shape = layers.Maximum().compute_output_shape([(None, 3, 1), (None, None, 1)])
    assert tuple(shape) == (None, None, 1)
    a = lamina.Input(batch_shape=(None, 3, 1))
    b = lamina.Input(batch_shape=(None, None, 1))
    assert tuple(layers.Add()([a, b]).shape) == (None, None, 1)


def test_elementwise_merge_keeps_a_known_batch_size_and_broadcasts_ones():
    shape = layers.Add().compute_output_shape([(4, 1, 3), (None, 5, 3)])
    assert tuple(shape) == (4, 5, 3)


def test_concatenate_takes_other_axes_from_the_first_input():
    layer = layers.Concatenate(axis=-1)
    shape = layer.compute_output_shape([(None, None, 3), (None, 3, 2)])
    assert tuple(shape) == (None, None, 5)
    with pytest.raises(ValueError, match="match except on the concatenation"):
        layer.compute_output_shape([(None, 4, 3), (None, 3, 2)])


# --- weights, pooling, normalization -------------------------------------------


def test_set_weights_accepts_ml_dtypes_bfloat16_arrays():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    layer = layers.Dense(2, dtype="bfloat16")
    layer.build((None, 3))
    kernel = np.array([[1.5, -2.0], [0.25, 3.0], [1.0, 0.0]], dtype=ml_dtypes.bfloat16)
    bias = np.array([0.5, -0.5], dtype=ml_dtypes.bfloat16)
    layer.set_weights([kernel, bias])
    np.testing.assert_array_equal(layer.get_weights()[0], kernel.astype("float32"))
    np.testing.assert_array_equal(layer.get_weights()[1], bias.astype("float32"))


@pytest.mark.parametrize(
    "cls",
    [
        "MaxPooling3D",
        "AveragePooling3D",
        "AdaptiveMaxPooling3D",
        "AdaptiveAveragePooling3D",
    ],
)
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_3d_pooling_returns_the_compute_dtype_under_mixed_policies(cls, policy):
    layer = getattr(layers, cls)(2, dtype=policy)
    x = _x(1, 4, 4, 4, 2)
    out = layer(x)
    assert out.dtype == getattr(torch, policy.replace("mixed_", ""))
    reference = getattr(layers, cls)(2)(x)
    np.testing.assert_allclose(
        out.float().cpu().numpy(), reference.cpu().numpy(), atol=2e-2
    )


def test_batch_normalization_with_renorm_stores_empty_clipping_like_keras():
    layer = layers.BatchNormalization(renorm=True)
    assert layer.get_config()["renorm_clipping"] == {}
    assert layers.BatchNormalization().get_config()["renorm_clipping"] is None


def test_spectral_normalization_trains_under_mixed_float16():
    x = np.random.default_rng(0).random((2, 4)).astype("float32")
    layer = layers.SpectralNormalization(layers.Dense(3), dtype="mixed_float16")
    layer(x)
    kernel, vector_u, bias = (w.astype("float64") for w in layer.get_weights())
    # One power iteration in float64: kernel / sigma.
    v = vector_u @ kernel.T
    v /= np.linalg.norm(v)
    u = v @ kernel
    u /= np.linalg.norm(u)
    sigma = (v @ kernel) @ u.T
    expected = x @ (kernel / sigma) + bias
    out = layer(x, training=True)
    assert out.dtype == torch.float16
    np.testing.assert_allclose(out.detach().float().cpu().numpy(), expected, atol=3e-3)
    assert np.isfinite(layer.get_weights()[1]).all()


# --- Lambda: symbolic output dtype ----------------------------------------------


@pytest.mark.parametrize(
    "policy, dtype",
    [
        ("float16", "float16"),
        ("bfloat16", "bfloat16"),
        ("mixed_bfloat16", "bfloat16"),
        (None, "float32"),
    ],
)
def test_lambda_symbolic_output_dtype_matches_its_eager_output(policy, dtype):
    layer = layers.Lambda(lambda x: x * 2.0 + 1.0, dtype=policy)
    symbolic = layer(lamina.Input((4,)))
    assert symbolic.dtype == dtype
    eager = layer(_x(2, 4))
    assert str(eager.dtype) == f"torch.{dtype}"


def test_custom_layer_symbolic_output_dtype_follows_a_mixed_policy():
    class Project(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2))

        def call(self, x):
            return lamina.ops.matmul(x, self.w)

    out = Project(dtype="mixed_bfloat16")(lamina.Input((4,)))
    assert out.dtype == "bfloat16"
    assert tuple(out.shape) == (None, 2)


# --- against Keras ----------------------------------------------------------------


def test_merge_dtype_and_config_match_keras():
    keras = pytest.importorskip("keras")
    x, y = _x(2, 3), _x(2, 3, seed=1)
    for cls in ("Add", "Multiply", "Dot"):
        kwargs = {"axes": 1} if cls == "Dot" else {}
        ours = getattr(layers, cls)(dtype="bfloat16", name="m", **kwargs)
        theirs = getattr(keras.layers, cls)(dtype="bfloat16", name="m", **kwargs)
        assert str(ours([x, y]).dtype) == str(theirs([x, y]).dtype)
        ours_config, theirs_config = ours.get_config(), theirs.get_config()
        ours_config["dtype"].pop("registered_name", None)
        theirs_config["dtype"].pop("registered_name", None)
        assert ours_config == theirs_config


def test_bfloat16_weights_copy_from_keras():
    keras = pytest.importorskip("keras")
    x = _x(2, 3, 5)
    theirs = keras.layers.DepthwiseConv1D(3, padding="same", dtype="bfloat16")
    ours = layers.DepthwiseConv1D(3, padding="same", dtype="bfloat16")
    theirs(x), ours(x)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(
        ours(x).detach().float().cpu().numpy(),
        keras.ops.convert_to_numpy(theirs(x)).astype("float32"),
        atol=5e-2,
    )


# --- found in the second fuzzing round --------------------------------------------


@pytest.mark.parametrize("policy", ["mixed_float16", "float16"])
def test_unit_normalization_runs_in_float16(policy):
    x = np.random.default_rng(0).random((2, 4)).astype("float32")
    out = layers.UnitNormalization(dtype=policy)(x)
    assert out.dtype == torch.float16
    expected = x / np.linalg.norm(x, axis=-1, keepdims=True)
    np.testing.assert_allclose(out.float().cpu().numpy(), expected, atol=2e-3)


def test_layer_normalization_without_weights_accepts_unknown_normalized_sizes():
    inputs = lamina.Input((4, None, 4))
    layer = layers.LayerNormalization(axis=[1, 2], center=False, scale=False)
    outputs = layer(inputs)
    assert tuple(outputs.shape) == (None, 4, None, 4)
    x = _x(2, 4, 3, 4)
    out = lamina.Model(inputs, outputs)(x).cpu().numpy()
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-3), atol=1e-5)
    with pytest.raises(ValueError, match="known sizes"):
        layers.LayerNormalization(axis=[1, 2])(lamina.Input((4, None, 4)))


@pytest.mark.parametrize(
    "cls, kwargs, out_shape",
    [
        ("DepthwiseConv2D", {"kernel_size": 2}, (2, 4, 3, 3)),
        ("SeparableConv2D", {"filters": 4, "kernel_size": 2}, (2, 4, 3, 4)),
    ],
)
def test_depthwise_and_separable_conv_accept_strided_dilated_windows(
    cls, kwargs, out_shape
):
    layer = getattr(layers, cls)(strides=2, dilation_rate=2, **kwargs)
    out = layer(_x(2, 9, 8, 3))
    assert tuple(out.shape) == out_shape
    assert tuple(layer.compute_output_shape((None, 9, 8, 3))) == (None,) + out_shape[1:]


@pytest.mark.parametrize("cls", ["Conv2D", "Conv2DTranspose"])
def test_conv_and_transposed_conv_still_reject_strided_dilated_windows(cls):
    with pytest.raises(ValueError, match="dilation_rate > 1"):
        getattr(layers, cls)(2, 2, strides=2, dilation_rate=2)


def test_strided_dilated_depthwise_conv_matches_keras():
    keras = pytest.importorskip("keras")
    x = _x(2, 9, 8, 3)
    kwargs = {"kernel_size": 3, "strides": 2, "dilation_rate": 2, "padding": "same"}
    theirs = keras.layers.DepthwiseConv2D(**kwargs)
    ours = layers.DepthwiseConv2D(**kwargs)
    theirs(x), ours(x)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(
        ours(x).detach().cpu().numpy(),
        keras.ops.convert_to_numpy(theirs(x)),
        rtol=1e-5,
        atol=1e-5,
    )
