"""Quantizer behaviours found by running Keras 3.15.1's quantizer tests on lamina
(session 13), and a side-by-side check of the public quantization maths."""

import contextlib
import os

import numpy as np
import pytest
import torch

import lamina
from lamina import quantizers
from lamina.backend.keras_tensor import KerasTensor
from lamina.dtype_policies.quantized_dtype_policy import quantized_policy_from_name
from lamina.quantizers.gptq_core import get_dataloader
from lamina.quantizers.quantization_config import (
    QuantizationConfig,
    validate_and_resolve_config,
)

# --- symbolic inputs: the maths are ops, as in Keras ----------------------------


@pytest.mark.parametrize("axis", [None, -1])
def test_fake_quant_on_a_keras_tensor_returns_a_keras_tensor(axis):
    low, high = (-3.0, 3.0) if axis is None else ([-3.0] * 4, [3.0] * 4)
    out = quantizers.fake_quant_with_min_max_vars(
        KerasTensor((2, 3, 4)), low, high, axis=axis
    )
    assert isinstance(out, KerasTensor)
    assert (out.shape, out.dtype) == ((2, 3, 4), "float32")


def test_fake_quant_inside_a_functional_model_computes_the_eager_values():
    inputs = lamina.Input((5,))
    model = lamina.Model(
        inputs, quantizers.fake_quant_with_min_max_vars(inputs, -1.0, 1.0)
    )
    x = np.linspace(-2, 2, 10, dtype="float32").reshape(2, 5)
    eager = quantizers.fake_quant_with_min_max_vars(x, -1.0, 1.0)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), lamina.ops.convert_to_numpy(eager)
    )


# Shapes and dtypes Keras 3.15.1 returns for the same symbolic calls.
SYMBOLIC = {
    "abs_max_quantize": (
        lambda: quantizers.abs_max_quantize(KerasTensor((4, 6)), -1),
        [((4, 6), "int8"), ((4, 1), "float32")],
    ),
    "AbsMaxQuantizer": (
        lambda: quantizers.AbsMaxQuantizer()(KerasTensor((4, 6))),
        [((4, 6), "int8"), ((4, 1), "float32")],
    ),
    "grouped": (
        lambda: quantizers.abs_max_quantize_grouped_with_zero_point(
            KerasTensor((4, 6)), 2
        ),
        [((4, 6), "int8"), ((2, 6), "float32"), ((2, 6), "int8")],
    ),
    "compute_float8_scale": (
        lambda: quantizers.compute_float8_scale(
            KerasTensor(()), KerasTensor(()), 448.0
        ),
        [((), "float32")],
    ),
    "compute_float8_amax_history": (
        lambda: quantizers.compute_float8_amax_history(
            KerasTensor((4, 6)), KerasTensor((8,))
        ),
        [((8,), "float32")],
    ),
    "quantize_and_dequantize": (
        lambda: quantizers.quantize_and_dequantize(
            KerasTensor((4, 6)), 0.5, "float8_e4m3fn", "float32"
        ),
        [((4, 6), "float32")],
    ),
    "unpack_int4": (
        lambda: quantizers.unpack_int4(KerasTensor((2, 6), dtype="int8"), 4),
        [((4, 6), "int8")],
    ),
    "abs_max_quantize_of_an_input": (
        lambda: quantizers.abs_max_quantize(lamina.Input((6,)), -1),
        [((None, 6), "int8"), ((None, 1), "float32")],
    ),
}


@pytest.mark.parametrize("name", sorted(SYMBOLIC))
def test_quantization_maths_on_keras_tensors_give_keras_shapes(name):
    call, expected = SYMBOLIC[name]
    result = call()
    result = result if isinstance(result, tuple) else (result,)
    assert all(isinstance(t, KerasTensor) for t in result)
    assert [(t.shape, t.dtype) for t in result] == expected


def test_pack_int4_of_a_keras_tensor_raises_a_value_error_as_keras():
    with pytest.raises(ValueError, match="symbolic"):
        quantizers.pack_int4(KerasTensor((2, 6), dtype="int8"))


# --- float8 round trip ----------------------------------------------------------


def test_quantize_and_dequantize_rounds_once_to_float8_as_keras():
    # float32 inputs with a bfloat16 compute dtype: Keras divides in float32
    # and casts once to float8. -5620 (= -1405 / 0.25) goes to -5120; rounding
    # it to bfloat16 first (-5632) would tie and go to -6144.
    x = torch.tensor([-1405.0, 1891.0, 1560.0, 1289.0, -80.0, -1071.0])
    out = quantizers.quantize_and_dequantize(
        x, torch.tensor(0.25), "float8_e5m2", "bfloat16"
    )
    assert out.dtype == torch.bfloat16
    np.testing.assert_array_equal(
        lamina.ops.convert_to_numpy(out.float()),
        [-1280.0, 1792.0, 1536.0, 1280.0, -80.0, -1024.0],
    )


# --- configs and policies -------------------------------------------------------


@pytest.mark.parametrize("mode", ["gptq", "awq"])
def test_a_config_claiming_gptq_or_awq_must_be_of_that_class(mode):
    class Impostor(QuantizationConfig):
        @property
        def mode(self):
            return mode

    with pytest.raises(ValueError, match="requires a valid `config`"):
        validate_and_resolve_config(mode, Impostor())
    with pytest.raises(ValueError, match="requires a valid `config`"):
        validate_and_resolve_config(None, Impostor())


def test_validate_and_resolve_config_keeps_keras_messages():
    with pytest.raises(ValueError, match="Contradictory arguments"):
        validate_and_resolve_config("gptq", quantizers.Int8QuantizationConfig())
    with pytest.raises(ValueError, match="must pass a `GPTQConfig`"):
        validate_and_resolve_config("gptq", None)
    config = quantizers.GPTQConfig(dataset=["a b"], tokenizer=None)
    assert validate_and_resolve_config("gptq", config) is config


def test_quantized_policy_from_name_checks_type_and_mode_as_keras():
    with pytest.raises(TypeError, match="must be a string"):
        quantized_policy_from_name(123)
    with pytest.raises(
        ValueError, match="is incompatible with the current supported quantization"
    ):
        quantized_policy_from_name("float7")
    policy = quantized_policy_from_name("float8_from_mixed_bfloat16")
    assert policy.name == "float8_from_mixed_bfloat16"


def test_calibration_dataset_given_by_name_is_refused_with_keras_phrase():
    with pytest.raises(
        TypeError,
        match="The `dataset` argument must be an iterable.*Got type: str.*"
        "Please pass the loaded dataset directly",
    ):
        get_dataloader(None, 10, "wikitext2", num_samples=10)


# --- side by side with Keras 3.15.1 on torch ------------------------------------


@pytest.fixture(scope="module")
def kq():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("needs Keras on its torch backend")
    return keras.quantizers


def _close(a, b, atol=1e-6):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y, atol)
        return
    a, b = torch.as_tensor(a).detach().cpu(), torch.as_tensor(b).detach().cpu()
    assert a.shape == b.shape and a.dtype == b.dtype, (
        a.shape,
        b.shape,
        a.dtype,
        b.dtype,
    )
    np.testing.assert_allclose(a.double().numpy(), b.double().numpy(), atol=atol)


RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 5)).astype("float32")
X3 = RNG.standard_normal((4, 3, 5)).astype("float32")
INTS = RNG.integers(-8, 8, size=(5, 4)).astype("int8")
UINTS = RNG.integers(0, 16, size=(4, 5)).astype("uint8")

PARITY = {
    "abs_max axis 0": lambda q: q.abs_max_quantize(X3, 0),
    "abs_max axes (0, 1)": lambda q: q.abs_max_quantize(X3, (0, 1)),
    "abs_max numpy": lambda q: q.abs_max_quantize(X3, -1, to_numpy=True),
    "abs_max float16": lambda q: q.abs_max_quantize(
        torch.tensor(X, dtype=torch.float16), -1
    ),
    "abs_max int16": lambda q: q.abs_max_quantize(X, -1, (-1000, 1000), "int16", 1e-3),
    "grouped 2": lambda q: q.abs_max_quantize_grouped_with_zero_point(X, 2),
    "grouped 4 numpy": lambda q: q.abs_max_quantize_grouped_with_zero_point(
        X, 4, to_numpy=True
    ),
    "grouped 8 bits": lambda q: q.abs_max_quantize_grouped_with_zero_point(
        X, 3, value_range=(-128, 127)
    ),
    "grouped constant": lambda q: q.abs_max_quantize_grouped_with_zero_point(
        np.ones((4, 3), "float32"), 2
    ),
    "AbsMaxQuantizer": lambda q: q.AbsMaxQuantizer(axis=0, value_range=(-8, 7))(X3),
    "float8 scale": lambda q: q.compute_float8_scale(
        np.array([1.0, 0.0, np.inf, 5.0], "float32"),
        np.array([0.5, 0.5, 0.5, 2.0], "float32"),
        448.0,
        2,
    ),
    "amax history": lambda q: q.compute_float8_amax_history(
        X, np.arange(5, dtype="float32")
    ),
    "qdq e4m3 float16": lambda q: q.quantize_and_dequantize(
        X * 100, 0.5, "float8_e4m3fn", "float16"
    ),
    "qdq e5m2 bfloat16": lambda q: q.quantize_and_dequantize(
        torch.tensor(X * 1000), torch.tensor(0.25), "float8_e5m2", "bfloat16"
    ),
    "pack axis 0": lambda q: q.pack_int4(INTS),
    "pack axis 1 uint8": lambda q: q.pack_int4(UINTS, axis=1, dtype="uint8"),
    "unpack axis 0": lambda q: q.unpack_int4(q.pack_int4(INTS)[0], 5),
    "unpack uint8 as uint8": lambda q: q.unpack_int4(
        q.pack_int4(UINTS, axis=1, dtype="uint8")[0], 5, axis=1, dtype="uint8"
    ),
}


@pytest.mark.parametrize("name", sorted(PARITY))
def test_quantization_maths_match_keras(kq, name):
    _close(PARITY[name](kq), PARITY[name](quantizers), atol=1e-6)


def _fake_quant_with_grads(q, x, low, high, **kwargs):
    x = torch.tensor(x, requires_grad=True)
    low = torch.tensor(low, requires_grad=True)
    high = torch.tensor(high, requires_grad=True)
    out = q.fake_quant_with_min_max_vars(x, low, high, **kwargs)
    weights = torch.arange(out.numel(), dtype=out.dtype, device=out.device)
    weights = weights.reshape(out.shape)
    (out * weights).sum().backward()
    return out, x.grad, low.grad, high.grad


@pytest.mark.parametrize(
    "low, high, kwargs",
    [
        (-2.0, 2.5, {}),
        (-2.0, 2.5, {"narrow_range": True}),
        (0.5, 2.5, {"num_bits": 4}),
        ([-1.0, -2.0, -3.0, -0.5], [1.0, 2.0, 0.5, 3.0], {"axis": -1}),
    ],
)
def test_fake_quant_values_and_gradients_match_keras(kq, low, high, kwargs):
    x = (np.random.default_rng(1).standard_normal((3, 4)) * 3).astype("float32")
    low, high = np.float32(low), np.float32(high)
    if kwargs.get("axis") is not None:
        low, high = np.array(low, "float32"), np.array(high, "float32")
    _close(
        _fake_quant_with_grads(kq, x, low, high, **kwargs),
        _fake_quant_with_grads(quantizers, x, low, high, **kwargs),
    )


def test_configs_and_quantizers_serialize_as_keras(kq):
    for name in ("GPTQConfig", "AWQConfig"):
        theirs = getattr(kq, name)(
            dataset=None, tokenizer=None, weight_bits=4, group_size=32
        )
        ours = getattr(quantizers, name).from_config(theirs.get_config())
        assert ours.get_config() == theirs.get_config()
        assert ours.dtype_policy_string() == theirs.dtype_policy_string()
    for make in (
        lambda q: q.AbsMaxQuantizer(axis=(0, 1), value_range=(-8, 7)),
        lambda q: q.Int8QuantizationConfig(weight_quantizer=q.AbsMaxQuantizer(axis=0)),
        lambda q: q.Int4QuantizationConfig(block_size=64),
        lambda q: q.Float8QuantizationConfig(),
    ):
        assert quantizers.serialize(make(quantizers)) == kq.serialize(make(kq))
        back = quantizers.deserialize(kq.serialize(make(kq)))
        assert quantizers.serialize(back) == kq.serialize(make(kq))


# --- quantized layers under a mixed policy ---------------------------------------

MIXED_CASES = [
    ("dense", "int8", None),
    ("dense", "int4", None),
    ("dense", "int4", 4),
    ("dense", "float8", None),
    ("einsum", "int8", None),
    ("einsum", "int4", None),
    ("einsum", "int4", 4),
    ("einsum", "float8", None),
]


def _mixed_layer(lib, kind, mode, block_size):
    if kind == "dense":
        layer = lib.layers.Dense(6, dtype="mixed_bfloat16")
    else:
        layer = lib.layers.EinsumDense(
            "ab,bc->ac", output_shape=6, bias_axes="c", dtype="mixed_bfloat16"
        )
    layer.build((3, 8))
    config = None
    if block_size is not None:
        config = lib.quantizers.Int4QuantizationConfig(block_size=block_size)
    layer.quantize(mode, config=config)
    return layer


@pytest.mark.parametrize("kind, mode, block_size", MIXED_CASES)
def test_quantized_layers_keep_the_compute_dtype_under_a_mixed_policy(
    kind, mode, block_size
):
    # Keras reads the scales (and float8's kernel) in the compute dtype.
    layer = _mixed_layer(lamina, kind, mode, block_size)
    out = layer(np.ones((3, 8), "float32"))
    assert out.dtype == torch.bfloat16


@pytest.mark.parametrize("kind, mode, block_size", MIXED_CASES)
def test_quantized_layers_under_a_mixed_policy_match_keras_exactly(
    kq, kind, mode, block_size
):
    import keras

    theirs = _mixed_layer(keras, kind, mode, block_size)
    ours = _mixed_layer(lamina, kind, mode, block_size)
    ours.set_weights([keras.ops.convert_to_numpy(v) for v in theirs.weights])
    x = np.random.default_rng(2).standard_normal((3, 8)).astype("float32")
    np.testing.assert_array_equal(
        lamina.ops.convert_to_numpy(ours(x).float()),
        theirs(x).float().detach().cpu().numpy(),
    )


@pytest.mark.parametrize("algorithm", ["gptq", "awq"])
@pytest.mark.parametrize("kind", ["dense", "einsum"])
def test_gptq_and_awq_layers_under_a_mixed_policy_match_keras_exactly(
    kq, algorithm, kind
):
    import keras

    policy = f"{algorithm}/4/4_from_mixed_bfloat16"
    rng = np.random.default_rng(4)
    layers = []
    for lib in (keras, lamina):
        if kind == "dense":
            layer = lib.layers.Dense(6, dtype=policy)
        else:
            layer = lib.layers.EinsumDense(
                "ab,bc->ac", output_shape=6, bias_axes="c", dtype=policy
            )
        layer.build((3, 8))
        layers.append(layer)
    theirs, ours = layers
    for variable in theirs.weights:
        value = keras.ops.convert_to_numpy(variable)
        if value.dtype.kind == "f" and "g_idx" not in variable.path:
            value = (np.abs(rng.standard_normal(value.shape)) * 0.1 + 0.01).astype(
                value.dtype
            )
        elif value.dtype.kind in "iu":
            value = rng.integers(0, 8, value.shape).astype(value.dtype)
        variable.assign(value)
    # Keras computes with the loaded variables only once it counts the layer
    # as calibrated (loading sets the flag).
    setattr(theirs, f"is_{algorithm}_calibrated", True)
    ours.set_weights([keras.ops.convert_to_numpy(v) for v in theirs.weights])
    x = rng.standard_normal((3, 8)).astype("float32")
    out = ours(x)
    assert out.dtype == torch.bfloat16
    np.testing.assert_array_equal(
        lamina.ops.convert_to_numpy(out.float()),
        theirs(x).float().detach().cpu().numpy(),
    )


EMBEDDING_CASES = [
    (cls, mode, block_size, tie)
    for cls in ("Embedding", "ReversibleEmbedding")
    for mode, block_size in (("int8", None), ("int4", None), ("int4", 2))
    for tie in ((True, False) if cls == "ReversibleEmbedding" else (True,))
]


@contextlib.contextmanager
def _global_policy(policy, *libs):
    """Models made inside take `policy` (Keras's functional Model ignores a
    `dtype` argument, so the global policy is how to make a mixed one)."""
    for lib in libs:
        lib.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        for lib in libs:
            lib.config.set_dtype_policy("float32")


def _mixed_embedding(lib, cls, mode, block_size, tie):
    kwargs = {"tie_weights": tie} if cls == "ReversibleEmbedding" else {}
    layer = getattr(lib.layers, cls)(10, 6, dtype="mixed_bfloat16", **kwargs)
    layer.build((2, 3))
    return layer


def _quantize(lib, layer, mode, block_size):
    config = None
    if block_size is not None:
        config = lib.quantizers.Int4QuantizationConfig(block_size=block_size)
    layer.quantize(mode, config=config)


def test_quantized_embedding_dtype_depends_on_the_call_context_as_keras():
    # Keras: Embedding does not autocast, so inside a mixed model its scales
    # stay float32 (float32 outputs); on its own, or in a float32 model, it
    # opens its own autocast scope (bfloat16 outputs).
    layer = _mixed_embedding(lamina, "Embedding", "int8", None, True)
    _quantize(lamina, layer, "int8", None)
    ids = np.array([[1, 2, 3]], "int32")
    assert layer(ids).dtype == torch.bfloat16
    for policy, expected in (
        ("float32", torch.bfloat16),
        ("mixed_bfloat16", torch.float32),
    ):
        with _global_policy(policy, lamina):
            inputs = lamina.Input((3,), dtype="int32")
            model = lamina.Model(inputs, layer(inputs))
        assert model(ids).dtype == expected


# Keras 3.15.1's reverse call transposes a 1-D scale with `.T` (a torch warning).
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("cls, mode, block_size, tie", EMBEDDING_CASES)
def test_quantized_embeddings_under_a_mixed_policy_match_keras_exactly(
    kq, cls, mode, block_size, tie
):
    import keras

    rng = np.random.default_rng(3)
    ids = rng.integers(0, 10, (2, 3)).astype("int32")
    hidden = rng.standard_normal((2, 3, 6)).astype("float32")
    theirs = _mixed_embedding(keras, cls, mode, block_size, tie)
    ours = _mixed_embedding(lamina, cls, mode, block_size, tie)
    ours.set_weights([keras.ops.convert_to_numpy(v) for v in theirs.weights])
    _quantize(keras, theirs, mode, block_size)
    _quantize(lamina, ours, mode, block_size)
    pairs = [(theirs(ids), ours(ids))]
    if cls == "ReversibleEmbedding":
        pairs.append((theirs(hidden, reverse=True), ours(hidden, reverse=True)))
        # Inside a float32 model and inside a mixed one (reverse logits after
        # a mixed Dense): Keras's scope differs, and so do its roundings.
        for policy in ("float32", "mixed_bfloat16"):
            models = []
            with _global_policy(policy, keras, lamina):
                for lib, layer in ((keras, theirs), (lamina, ours)):
                    inputs = lib.Input((3, 6))
                    dense = lib.layers.Dense(
                        6, kernel_initializer="ones", dtype="mixed_bfloat16"
                    )
                    outputs = layer(dense(inputs), reverse=True)
                    models.append(lib.Model(inputs, outputs))
            pairs.append((models[0](hidden), models[1](hidden)))
    else:
        for policy in ("float32", "mixed_bfloat16"):
            models = []
            with _global_policy(policy, keras, lamina):
                for lib, layer in ((keras, theirs), (lamina, ours)):
                    inputs = lib.Input((3,), dtype="int32")
                    models.append(lib.Model(inputs, layer(inputs)))
            pairs.append((models[0](ids), models[1](ids)))
    for i, (expected, got) in enumerate(pairs):
        assert str(got.dtype) == str(expected.dtype), i
        np.testing.assert_array_equal(
            lamina.ops.convert_to_numpy(got.float()),
            expected.float().detach().cpu().numpy(),
        )
