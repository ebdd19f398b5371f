"""lamina.quantizers against keras.quantizers (torch backend): values, gradients,
configs and errors."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lamina import dtype_policies, quantizers  # noqa: E402

keras = pytest.importorskip("keras")
kq = keras.quantizers


def _np(x):
    return (
        keras.ops.convert_to_numpy(x)
        if not isinstance(x, torch.Tensor)
        else (x.detach().cpu().numpy())
    )


def _data(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("to_numpy", [False, True])
@pytest.mark.parametrize("axis", [0, -1, (0, 2)])
def test_abs_max_quantize_matches_keras(axis, to_numpy):
    x = _data(4, 5, 6)
    q, scale = quantizers.abs_max_quantize(x, axis, to_numpy=to_numpy)
    kq_, kscale = kq.abs_max_quantize(x, axis, to_numpy=to_numpy)
    assert q.dtype == torch.int8 and scale.dtype == torch.float32
    np.testing.assert_array_equal(_np(q), _np(kq_))
    np.testing.assert_allclose(_np(scale), _np(kscale), rtol=1e-6)


def test_abs_max_quantizer_defaults_to_last_axis_and_round_trips_config():
    x = _data(3, 8)
    quantizer = quantizers.AbsMaxQuantizer(value_range=(-100, 100))
    q, scale = quantizer(x)
    assert tuple(scale.shape) == (3, 1)
    assert int(q.abs().max()) == 100
    config = quantizer.get_config()
    assert config == kq.AbsMaxQuantizer(value_range=(-100, 100)).get_config()
    again = quantizers.AbsMaxQuantizer.from_config(config)
    np.testing.assert_array_equal(_np(again(x)[0]), _np(q))


def test_abs_max_quantizer_refuses_a_range_outside_int8():
    with pytest.raises(ValueError, match="value_range"):
        quantizers.AbsMaxQuantizer(value_range=(-200, 127))


@pytest.mark.parametrize("to_numpy", [False, True])
@pytest.mark.parametrize("block_size", [4, 5, 16])
def test_grouped_zero_point_quantization_matches_keras(block_size, to_numpy):
    x = _data(10, 6, seed=1)
    ours = quantizers.abs_max_quantize_grouped_with_zero_point(
        x, block_size, to_numpy=to_numpy
    )
    theirs = kq.abs_max_quantize_grouped_with_zero_point(
        x, block_size=block_size, to_numpy=to_numpy
    )
    for a, b in zip(ours, theirs):
        assert _np(a).shape == _np(b).shape
        assert str(_np(a).dtype) == str(_np(b).dtype)
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_bits": 8},
        {"num_bits": 4, "narrow_range": True},
    ],
)
def test_fake_quant_per_tensor_values_and_gradients_match_keras(kwargs):
    x = _data(3, 7) * 2
    lo, hi = np.float32(-1.3), np.float32(1.7)
    ours_x = torch.tensor(x, requires_grad=True)
    ours_lo = torch.tensor(lo, requires_grad=True)
    ours_hi = torch.tensor(hi, requires_grad=True)
    out = quantizers.fake_quant_with_min_max_vars(ours_x, ours_lo, ours_hi, **kwargs)
    (out * torch.arange(7.0)).sum().backward()
    k_x = torch.tensor(x, requires_grad=True)
    k_lo = torch.tensor(lo, requires_grad=True)
    k_hi = torch.tensor(hi, requires_grad=True)
    k_out = kq.fake_quant_with_min_max_vars(k_x, k_lo, k_hi, **kwargs)
    (k_out * torch.arange(7.0)).sum().backward()
    np.testing.assert_allclose(_np(out), _np(k_out), atol=1e-6)
    for a, b in ((ours_x, k_x), (ours_lo, k_lo), (ours_hi, k_hi)):
        np.testing.assert_allclose(_np(a.grad), _np(b.grad), atol=1e-5)
    # Straight-through: inside the range the gradient is the upstream one.
    inside = (x > -1.2) & (x < 1.6)
    np.testing.assert_allclose(
        _np(ours_x.grad)[inside], np.broadcast_to(np.arange(7.0), x.shape)[inside]
    )


def test_fake_quant_per_channel_matches_keras():
    x = _data(4, 3)
    lo = np.array([-1.0, -0.5, -2.0], "float32")
    hi = np.array([1.0, 0.7, 0.1], "float32")
    ours_lo = torch.tensor(lo, requires_grad=True)
    out = quantizers.fake_quant_with_min_max_vars(x, ours_lo, hi, axis=-1)
    out.sum().backward()
    k_lo = torch.tensor(lo, requires_grad=True)
    k_out = kq.fake_quant_with_min_max_vars(x, k_lo, hi, axis=-1)
    k_out.sum().backward()
    np.testing.assert_allclose(_np(out), _np(k_out), atol=1e-6)
    np.testing.assert_allclose(_np(ours_lo.grad), _np(k_lo.grad))


def test_float8_helpers_match_keras():
    amax = np.array([0.0, 3.0, np.inf, 500.0], "float32")
    scale = np.array([0.5, 2.0, 4.0, 1.0], "float32")
    for margin in (0, 2):
        np.testing.assert_allclose(
            _np(quantizers.compute_float8_scale(amax, scale, 448.0, margin)),
            _np(kq.compute_float8_scale(amax, scale, 448.0, margin)),
            rtol=1e-6,
        )
    history = np.array([1.0, 2.0, 3.0], "float32")
    x = _data(5, 2)
    np.testing.assert_allclose(
        _np(quantizers.compute_float8_amax_history(x, history)),
        _np(kq.compute_float8_amax_history(x, history)),
    )
    assert _np(quantizers.compute_float8_amax_history(x, history))[0] == np.abs(x).max()
    x = _data(6, 6) * 300
    for dtype in ("float8_e4m3fn", "float8_e5m2"):
        np.testing.assert_allclose(
            _np(quantizers.quantize_and_dequantize(x, 0.5, dtype, "float32")),
            _np(kq.quantize_and_dequantize(x, 0.5, dtype, "float32")),
        )


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("shape", [(3, 4), (5, 3, 2)])
def test_pack_and_unpack_int4_match_keras_and_round_trip(shape, axis, dtype):
    rng = np.random.default_rng(2)
    low, high = (-8, 8) if dtype == "int8" else (0, 16)
    x = rng.integers(low, high, size=shape).astype(dtype)
    packed, packed_shape, length = quantizers.pack_int4(x, axis=axis, dtype=dtype)
    k_packed, k_shape, k_length = kq.pack_int4(
        keras.ops.convert_to_tensor(x), axis=axis, dtype=dtype
    )
    np.testing.assert_array_equal(_np(packed), _np(k_packed))
    assert (packed_shape, length) == (tuple(k_shape), k_length)
    unpacked = quantizers.unpack_int4(packed, length, axis=axis, dtype=dtype)
    assert unpacked.dtype == getattr(torch, dtype)
    np.testing.assert_array_equal(_np(unpacked), x)


def test_pack_int4_checks_dtypes():
    with pytest.raises(ValueError, match="'int8' or 'uint8'"):
        quantizers.pack_int4(np.zeros((2, 2), "int8"), dtype="int16")
    with pytest.raises(TypeError, match="int8 tensor"):
        quantizers.pack_int4(np.zeros((2, 2), "int32"))
    with pytest.raises(TypeError, match="int8 or uint8"):
        quantizers.unpack_int4(np.zeros((2, 2), "int32"), 2)


def test_configs_serialize_as_keras_writes_them_and_load_keras_configs():
    ours = quantizers.Int8QuantizationConfig(
        weight_quantizer=quantizers.AbsMaxQuantizer(axis=0)
    )
    theirs = kq.Int8QuantizationConfig(weight_quantizer=kq.AbsMaxQuantizer(axis=0))
    ours_json = json.loads(json.dumps(quantizers.serialize(ours)))
    theirs_json = json.loads(json.dumps(kq.serialize(theirs)))
    assert ours_json == theirs_json
    loaded = quantizers.deserialize(theirs_json)
    assert isinstance(loaded, quantizers.Int8QuantizationConfig)
    assert loaded.mode == "int8"
    assert loaded.weight_quantizer.axis == (0,)
    assert isinstance(loaded.activation_quantizer, quantizers.AbsMaxQuantizer)
    int4 = quantizers.Int4QuantizationConfig(block_size=64)
    assert json.loads(json.dumps(quantizers.serialize(int4))) == json.loads(
        json.dumps(kq.serialize(kq.Int4QuantizationConfig(block_size=64)))
    )
    assert quantizers.deserialize(kq.serialize(kq.Float8QuantizationConfig())).mode == (
        "float8"
    )


def test_config_validation_errors():
    with pytest.raises(ValueError, match="output_dtype='int8'"):
        quantizers.Int8QuantizationConfig(
            weight_quantizer=quantizers.AbsMaxQuantizer(output_dtype="int16")
        )
    with pytest.raises(ValueError, match="block_size"):
        quantizers.Int4QuantizationConfig(block_size=0)
    with pytest.raises(ValueError, match="custom quantizers"):
        quantizers.Int4QuantizationConfig(
            weight_quantizer=quantizers.AbsMaxQuantizer(value_range=(-8, 7))
        )
    with pytest.raises(NotImplementedError, match="QuantizationConfig is a base"):
        _ = quantizers.QuantizationConfig().mode


def test_get_accepts_names_dicts_objects_and_none():
    assert quantizers.get(None) is None
    assert isinstance(quantizers.get("abs_max_quantizer"), quantizers.AbsMaxQuantizer)
    quantizer = quantizers.AbsMaxQuantizer()
    assert quantizers.get(quantizer) is quantizer
    assert isinstance(
        quantizers.get(quantizers.serialize(quantizer)), quantizers.AbsMaxQuantizer
    )
    with pytest.raises(ValueError, match="Could not interpret"):
        quantizers.get("nope")


def test_public_names_cover_keras_quantizers():
    theirs = {n for n in dir(kq) if not n.startswith("_")}
    # Keras-internal GPTQ/AWQ helpers without a use outside those algorithms.
    theirs -= {"compute_quantization_parameters", "dequantize_with_sz_map"}
    theirs -= {"quantize_with_sz_map"}
    assert theirs <= set(quantizers.__all__)


def test_quantized_dtype_policies_match_keras():
    kd = keras.dtype_policies
    cases = [
        (
            dtype_policies.QuantizedDTypePolicy("int8", "float32"),
            kd.QuantizedDTypePolicy("int8", "float32"),
        ),
        (
            dtype_policies.QuantizedDTypePolicy("int8", "mixed_bfloat16"),
            kd.QuantizedDTypePolicy("int8", "mixed_bfloat16"),
        ),
        (
            dtype_policies.QuantizedFloat8DTypePolicy("float8", "float32", 16),
            kd.QuantizedFloat8DTypePolicy("float8", "float32", 16),
        ),
        (
            dtype_policies.Int4DTypePolicy("int4/128", "float32"),
            kd.Int4DTypePolicy("int4/128", "float32"),
        ),
    ]
    for ours, theirs in cases:
        assert (ours.name, ours.compute_dtype, ours.variable_dtype) == (
            theirs.name,
            theirs.compute_dtype,
            theirs.variable_dtype,
        )
        assert ours.quantization_mode == theirs.quantization_mode
        assert dtype_policies.serialize(ours) == kd.serialize(theirs)
        assert dtype_policies.deserialize(kd.serialize(theirs)) == ours
        by_name = dtype_policies.get(theirs.name)
        assert type(by_name) is type(ours) and by_name.name == ours.name
    assert repr(cases[0][0]) == '<QuantizedDTypePolicy "int8_from_float32">'
    assert dtype_policies.get("float32").quantization_mode is None


def test_quantized_policy_errors():
    with pytest.raises(ValueError, match="float16"):
        dtype_policies.get("int8_from_float16")
    with pytest.raises(ValueError, match="invalid mode"):
        dtype_policies.QuantizedDTypePolicy("int3", "float32")
    with pytest.raises(ValueError, match="int4/<block_size>"):
        dtype_policies.Int4DTypePolicy("int4/0", "float32")
