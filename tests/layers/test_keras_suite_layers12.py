"""Differences from Keras found by Keras's layers/ unit tests (session 12)."""

import os

import numpy as np
import pytest
import torch

from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _listing(layer):
    return [
        (v.name, tuple(v.shape), str(v.dtype).replace("torch.", ""))
        for v in layer.weights
    ]


def _einsum():
    layer = layers.EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c")
    layer.input_spec = layers.InputSpec(ndim=2)  # Keras reads it too
    return layer


# --- quantized_build(shape, mode, config=None) on the quantizable layers ------

# What Keras 3.15.1 creates (names, shapes, dtypes); int4 without a config is
# per channel there.
_EXPECTED = {
    ("dense", "int8"): [("kernel", (3, 2), "int8"), ("kernel_scale", (2,), "float32")],
    ("dense", "int4"): [("kernel", (3, 1), "int8"), ("kernel_scale", (2,), "float32")],
    ("einsum", "int8"): [
        ("kernel", (3, 4), "int8"),
        ("kernel_scale", (1, 4), "float32"),
    ],
    ("einsum", "int4"): [("kernel", (3, 2), "int8"), ("kernel_scale", (4,), "float32")],
    ("embedding", "int8"): [
        ("embeddings", (5, 4), "int8"),
        ("embeddings_scale", (5,), "float32"),
    ],
    ("embedding", "int4"): [
        ("embeddings", (5, 2), "int8"),
        ("embeddings_scale", (5,), "float32"),
    ],
    ("reversible", "int8"): [
        ("embeddings", (5, 4), "int8"),
        ("embeddings_scale", (5,), "float32"),
        ("reverse_embeddings", (4, 5), "int8"),
        ("reverse_embeddings_scale", (5,), "float32"),
    ],
    ("reversible", "int4"): [
        ("embeddings", (5, 2), "int8"),
        ("embeddings_scale", (5,), "float32"),
        ("reverse_embeddings", (2, 5), "int8"),
        ("reverse_embeddings_scale", (5,), "float32"),
    ],
}

_MAKERS = {
    "dense": (lambda: layers.Dense(2), (3, 2)),
    "einsum": (_einsum, (3, 4)),
    "embedding": (lambda: layers.Embedding(5, 4), (5, 4)),
    "reversible": (lambda: layers.ReversibleEmbedding(5, 4, tie_weights=False), (5, 4)),
}


@pytest.mark.parametrize("kind, mode", sorted(_EXPECTED))
def test_quantized_build_creates_keras_variables(kind, mode):
    make, shape = _MAKERS[kind]
    layer = make()
    layer.quantized_build(shape, mode)
    assert _listing(layer) == _EXPECTED[kind, mode]


def test_quantized_build_float8_adds_the_scales_only():
    layer = layers.Dense(2)
    layer.quantized_build((3, 2), "float8")
    names = [name for name, _, _ in _listing(layer)]
    assert names == [
        "inputs_scale",
        "inputs_amax_history",
        "kernel_scale",
        "kernel_amax_history",
        "outputs_grad_scale",
        "outputs_grad_amax_history",
    ]


@pytest.mark.parametrize("kind", sorted(_MAKERS))
@pytest.mark.parametrize("mode", ["int7", "float7"])
def test_quantized_build_refuses_unknown_modes_as_keras(kind, mode):
    make, shape = _MAKERS[kind]
    layer = make()
    policy = layer.dtype_policy
    with pytest.raises(NotImplementedError, match="Invalid quantization mode."):
        layer.quantized_build(shape, mode)
    assert layer.dtype_policy == policy and layer.weights == []


def test_embedding_quantized_build_float8_is_invalid():
    with pytest.raises(NotImplementedError, match="Expected one of .'int8', 'int4'"):
        layers.Embedding(5, 4).quantized_build((5, 4), "float8")


def test_embedding_quantized_build_checks_the_shape():
    with pytest.raises(ValueError, match=r"embeddings_shape=\(5, 4\)"):
        layers.Embedding(5, 4).quantized_build((4, 5), "int8")


def test_quantize_still_uses_the_config_block_size():
    # quantized_build's explicit mode leaves quantize()'s int4 path alone.
    layer = layers.Dense(4)
    layer.build((None, 256))
    layer.quantize("int4")
    assert tuple(layer.kernel_scale.shape) == (2, 4)
    out = layer(np.ones((1, 256), "float32"))
    assert tuple(out.shape) == (1, 4)


def test_quantized_build_matches_keras():
    keras = pytest.importorskip("keras")
    for kind, mode in sorted(_EXPECTED):
        make, shape = _MAKERS[kind]
        if kind == "dense":
            k_layer = keras.layers.Dense(2)
        elif kind == "einsum":
            k_layer = keras.layers.EinsumDense(
                "ab,bc->ac", output_shape=4, bias_axes="c"
            )
            k_layer.input_spec = keras.layers.InputSpec(ndim=2)
        elif kind == "embedding":
            k_layer = keras.layers.Embedding(5, 4)
        else:
            k_layer = keras.layers.ReversibleEmbedding(5, 4, tie_weights=False)
        k_layer.quantized_build(shape, mode)
        layer = make()
        layer.quantized_build(shape, mode)
        assert _listing(layer) == [
            (v.name, tuple(v.shape), str(v.dtype)) for v in k_layer.weights
        ], (kind, mode)


# --- Dense.call on arrays (Keras's ops convert them) ---------------------------


@pytest.mark.parametrize(
    "x",
    [
        np.arange(8, dtype="float32").reshape(2, 4),
        np.arange(8, dtype="float64").reshape(2, 4),
        np.arange(8, dtype="int32").reshape(2, 4),
        np.arange(24, dtype="float32").reshape(2, 3, 4),
        [[0.0, 1.0, 2.0, 3.0]],
    ],
    ids=["float32", "float64", "int32", "rank3", "list"],
)
def test_dense_call_takes_arrays_as_keras(x):
    layer = layers.Dense(3)
    layer.build((None, 4))
    out = layer.call(x)
    assert out.dtype == layer.kernel.dtype  # float32, as Keras's call returns
    expected = np.asarray(x, "float64") @ lamina_np(layer.kernel) + lamina_np(
        layer.bias
    )
    np.testing.assert_allclose(lamina_np(out), expected, rtol=1e-5, atol=1e-5)


def lamina_np(t):
    return t.detach().cpu().numpy().astype("float64")


# --- symbolic masks are graph nodes: a functional model may return them ------

_X1 = np.array([[[0, 0], [1, 2], [0, 0], [3, 4]]], "float32")
_X2 = np.array([[[0, 0], [0, 0], [1, 2], [3, 4]]], "float32")


def _mask_model(lib, merge):
    i1, i2 = lib.layers.Input((4, 2)), lib.layers.Input((4, 2))
    masked = lib.layers.Masking()(i1)
    if merge == "concat1":
        out = lib.layers.Concatenate(axis=1)([masked, i2])
    elif merge == "concat2":
        out = lib.layers.Concatenate(axis=2)([masked, i2])
    elif merge == "add":
        out = lib.layers.Add()([masked, lib.layers.Masking()(i2)])
    else:
        out = masked
    return lib.Model([i1, i2], out._keras_mask)


# Keras 3.15.1's values for the same models.
_MASKS = {
    "concat1": [[0, 1, 0, 1, 1, 1, 1, 1]],
    "concat2": [[1, 1, 1, 1]],
    "add": [[0, 1, 1, 1]],
    "masking": [[0, 1, 0, 1]],
}


@pytest.mark.parametrize("merge", sorted(_MASKS))
def test_symbolic_mask_can_be_a_model_output(merge):
    import lamina

    model = _mask_model(lamina, merge)
    out = model([_X1, _X2])
    assert out.dtype == torch.bool
    assert out.int().tolist() == _MASKS[merge]


def test_symbolic_mask_model_matches_keras():
    keras = pytest.importorskip("keras")
    import lamina

    for merge in sorted(_MASKS):
        theirs = keras.ops.convert_to_numpy(_mask_model(keras, merge)([_X1, _X2]))
        ours = _mask_model(lamina, merge)([_X1, _X2])
        assert ours.int().tolist() == theirs.astype(int).tolist(), merge


def test_dense_call_on_a_keras_tensor_records_the_graph():
    import lamina

    layer = layers.Dense(3, activation="relu")
    layer.build((None, 4))
    x = lamina.Input((4,))
    y = layer.call(x)
    assert tuple(y.shape) == (None, 3)
    model = lamina.Model(x, y)
    a = np.random.default_rng(0).random((2, 4), dtype=np.float32)
    np.testing.assert_allclose(
        model(a).detach().cpu().numpy(), layer(a).detach().cpu().numpy(), rtol=1e-6
    )


# --- Keras's stored-weight names `_kernel` / `_embeddings` (KerasHub uses them) -


def test_dense_kernel_is_reachable_as_keras_private_name():
    layer = layers.Dense(3)
    layer.build((None, 3))
    assert layer._kernel is layer.kernel
    layer._kernel.assign(np.eye(3, dtype="float32"))
    out = layer(np.ones((1, 3), "float32"))
    np.testing.assert_allclose(out.detach().cpu().numpy(), [[1.0, 1.0, 1.0]])
    layer.enable_lora(2)
    assert layer._kernel is layer.kernel and not layer._kernel.requires_grad


def test_dense_kernel_alias_follows_quantization():
    layer = layers.Dense(3)
    layer.build((None, 4))
    layer.quantize("int8")
    assert layer._kernel.dtype == torch.int8 and layer._kernel is layer.kernel


def test_embedding_table_is_reachable_as_keras_private_name():
    layer = layers.Embedding(5, 2)
    layer.build((None,))
    assert tuple(layer._embeddings.shape) == (5, 2)
    assert layer._embeddings is layer.embeddings


def test_unbuilt_dense_has_no_kernel_alias():
    with pytest.raises(AttributeError):
        getattr(layers.Dense(3), "_kernel")  # noqa: B009


# --- Model.quantize's unknown keywords: Keras's words ---------------------------


def test_model_quantize_unknown_keywords_message():
    import lamina

    model = lamina.Sequential([lamina.Input((4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
        model.quantize("int8", unrecognized_kwargs=None)


# --- attention subclasses written for Keras (KerasHub's pattern) --------------


def _keras_style_mha(lib):
    class KerasStyleMHA(lib.layers.MultiHeadAttention):
        def build(self, query_shape, value_shape, key_shape=None):
            self.seen = (query_shape, value_shape, key_shape)
            self.common = self._get_common_kwargs_for_sublayer()
            super().build(query_shape, value_shape, key_shape)

    return KerasStyleMHA


@pytest.mark.parametrize("with_key", [False, True])
def test_attention_subclass_build_gets_keras_keywords(with_key):
    import lamina

    layer = _keras_style_mha(lamina)(
        num_heads=2, key_dim=4, kernel_initializer="he_normal"
    )
    q, v = np.ones((1, 3, 8), "float32"), np.ones((1, 5, 6), "float32")
    out = layer(q, v, v) if with_key else layer(query=q, value=v)
    assert tuple(out.shape) == (1, 3, 8)
    assert layer.seen == ((1, 3, 8), (1, 5, 6), (1, 5, 6) if with_key else None)
    assert sorted(layer.common) == [
        "activity_regularizer",
        "bias_constraint",
        "bias_initializer",
        "bias_regularizer",
        "dtype",
        "kernel_constraint",
        "kernel_initializer",
        "kernel_regularizer",
    ]
    # A fresh initializer clone, as Keras's.
    assert type(layer.common["kernel_initializer"]).__name__ == "HeNormal"
    assert layer.common["kernel_initializer"] is not layer._kernel_initializer


def test_attention_subclass_builds_symbolically_and_reloads(tmp_path):
    import lamina

    cls = _keras_style_mha(lamina)
    x = lamina.Input((3, 8))
    model = lamina.Model(x, cls(num_heads=2, key_dim=4)(x, x))
    assert model.layers[1].seen == ((None, 3, 8), (None, 3, 8), None)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = lamina.saving.load_model(
        path, custom_objects={"KerasStyleMHA": cls}, safe_mode=False
    )
    a = np.random.default_rng(0).random((2, 3, 8), dtype=np.float32)
    np.testing.assert_allclose(
        loaded(a).detach().cpu().numpy(), model(a).detach().cpu().numpy(), rtol=1e-6
    )


def test_grouped_query_attention_common_kwargs_name():
    layer = layers.GroupedQueryAttention(
        head_dim=4, num_query_heads=2, num_key_value_heads=1
    )
    assert "kernel_initializer" in layer._get_common_kwargs_for_sublayer()
