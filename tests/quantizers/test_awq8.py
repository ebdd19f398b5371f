"""AWQ quantization: config, policy, calibration and files, against Keras 3.

As for GPTQ (see test_gptq8.py), Keras 3.15.1 records no activations during
`model.quantize("awq")` (its hook wraps `layer.call`, quantized layers run
`_awq_call`), so every scale search sees all-zero activations. lamina records
them; the end-to-end comparisons run Keras with the hook fixed, and both then
give bit-identical variables and outputs.
"""

import contextlib
import os
import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import dtype_policies, quantizers
from lamina.quantizers.awq import AWQ

os.environ.setdefault("KERAS_BACKEND", "torch")

TOKENS = np.random.default_rng(0).integers(0, 50, size=(300,)).astype("int32")
INPUTS = np.random.default_rng(1).integers(0, 50, size=(2, 6)).astype("int32")


def _model(lib, seed=0):
    lib.utils.set_random_seed(seed)
    embedding = lib.layers.Embedding(50, 16)
    dense = lib.layers.Dense(24)
    block = lib.Sequential(
        [
            lib.layers.EinsumDense("abc,cde->abde", (6, 3, 8), bias_axes="de"),
            lib.layers.EinsumDense("abde,def->abf", (6, 8)),
        ]
    )
    last = lib.layers.Dense(8, use_bias=False)
    model = lib.Sequential(
        [lib.Input((6,), dtype="int32"), embedding, dense, block, last]
    )
    structure = {
        "pre_block_layers": [embedding],
        "sequential_blocks": [dense, block, last],
    }
    return model, structure


def _config(lib, structure, **kwargs):
    settings = dict(num_samples=5, sequence_length=6, group_size=8, num_grid_points=8)
    settings.update(kwargs)
    return lib.quantizers.AWQConfig(
        dataset=[TOKENS],
        tokenizer=lambda text: text,
        quantization_layer_structure=structure,
        **settings,
    )


def _quantize(model, config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Embedding and InputLayer are skipped
        model.quantize("awq", config=config)


def _np(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


@contextlib.contextmanager
def _keras_capture_fixed(layers_map, states):
    """Keras's `stream_activations`, hooking the call quantized layers run."""
    from keras import ops

    for name, layer in layers_map.items():
        original = layer._awq_call

        def hook(*args, _name=name, _original=original, **kwargs):
            x = args[0] if args else kwargs["inputs"]
            state = states[_name]
            state.update_activation_magnitudes(ops.reshape(x, (-1, state.rows)))
            return _original(*args, **kwargs)

        layer._awq_call = hook
    try:
        yield
    finally:
        for layer in layers_map.values():
            del layer._awq_call


@pytest.fixture(scope="module")
def keras_awq():
    keras = pytest.importorskip("keras")
    from keras.src.quantizers import awq_core

    kmodel, kstructure = _model(keras)
    float_weights = kmodel.get_weights()
    original = awq_core.stream_activations
    awq_core.stream_activations = _keras_capture_fixed
    try:
        _quantize(kmodel, _config(keras, kstructure))
    finally:
        awq_core.stream_activations = original
    model, structure = _model(lamina)
    model.set_weights(float_weights)
    _quantize(model, _config(lamina, structure))
    return keras, kmodel, model


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weight_bits": 8}, "only supports 4-bit"),
        ({"num_samples": 0}, "num_samples must be a positive"),
        ({"sequence_length": 0}, "sequence_length must be a positive"),
        ({"group_size": 0}, "Invalid group_size"),
        ({"num_grid_points": 0}, "num_grid_points must be a positive"),
    ],
)
def test_config_rejects_bad_values_as_keras_does(kwargs, match):
    with pytest.raises(ValueError, match=match):
        quantizers.AWQConfig(dataset=None, tokenizer=None, **kwargs)


def test_config_and_policy_match_keras():
    keras = pytest.importorskip("keras")
    ours = quantizers.AWQConfig(None, None, group_size=-1, num_grid_points=7)
    theirs = keras.quantizers.AWQConfig(None, None, group_size=-1, num_grid_points=7)
    assert ours.get_config() == theirs.get_config()
    assert quantizers.AWQConfig.from_config(ours.get_config()).__dict__ == ours.__dict__
    assert ours.mode == "awq" and ours.dtype_policy_string() == "awq/4/-1"
    policy = dtype_policies.get("awq/4/64_from_float32")
    their_policy = keras.dtype_policies.get("awq/4/64_from_float32")
    assert isinstance(policy, dtype_policies.AWQDTypePolicy)
    assert (policy.name, policy.group_size) == (their_policy.name, 64)
    assert dtype_policies.serialize(policy) == keras.dtype_policies.serialize(
        their_policy
    )
    for mode in ("awq/8/128", "awq/4/0", "awq/4", "gptq/4/128"):
        with pytest.raises(ValueError, match="AWQDTypePolicy"):
            dtype_policies.AWQDTypePolicy(mode, "float32")


@pytest.mark.parametrize("group_size", [8, -1])
def test_activations_and_quantized_variables_equal_keras_bit_for_bit(group_size):
    keras = pytest.importorskip("keras")
    from keras.src.quantizers.awq import AWQ as KerasAWQ

    # Seeded: with some kernels the search's best ratio is 0 (scales of 1).
    layer = keras.layers.Dense(
        12, kernel_initializer=keras.initializers.GlorotUniform(seed=3)
    )
    layer.build((None, 16))
    settings = dict(group_size=group_size, num_grid_points=10)
    kconfig = keras.quantizers.AWQConfig(None, None, **settings)
    theirs = KerasAWQ(layer, kconfig)
    ours = AWQ(
        torch.as_tensor(_np(layer.kernel)), quantizers.AWQConfig(None, None, **settings)
    )
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = (rng.normal(size=(2, 5, 16)) * rng.uniform(0.1, 8, size=16)).astype(
            "float32"
        )
        theirs.update_activation_magnitudes(keras.ops.convert_to_tensor(x))
        ours.update_activation_magnitudes(torch.as_tensor(x))
    np.testing.assert_array_equal(
        _np(ours.activation_magnitudes), _np(theirs.activation_magnitudes)
    )
    levels, scale, zero, awq_scales, g_idx = ours.quantize()
    assert not np.allclose(_np(awq_scales), 1.0)  # the search chose a ratio > 0
    layer.quantize("awq", config=kconfig)
    theirs.quantize_layer()
    packed = quantizers.pack_int4(levels.to(torch.uint8), axis=0, dtype="uint8")[0]
    np.testing.assert_array_equal(_np(packed), _np(layer.quantized_kernel))
    np.testing.assert_array_equal(_np(scale), _np(layer.kernel_scale))
    np.testing.assert_array_equal(_np(zero), _np(layer.kernel_zero))
    np.testing.assert_array_equal(_np(awq_scales), _np(layer.awq_scales))
    np.testing.assert_array_equal(_np(g_idx), _np(layer.g_idx))


def test_model_variables_and_outputs_equal_keras(keras_awq):
    keras, kmodel, model = keras_awq
    ours = [(v.name, tuple(v.shape), str(v.dtype)) for v in model.weights]
    theirs = [(v.name, tuple(v.shape), v.dtype) for v in kmodel.weights]
    assert [(n, s) for n, s, _ in ours] == [(n, s) for n, s, _ in theirs]
    for a, b in zip(model.weights, kmodel.weights):
        np.testing.assert_array_equal(_np(a), _np(b), err_msg=a.path)
    dense = model.layers[1]
    assert dense.dtype_policy.name == "awq/4/8_from_float32"
    assert dense.is_awq_calibrated
    assert [w.name for w in dense.weights] == [
        "bias",
        "kernel",
        "kernel_scale",
        "kernel_zero",
        "awq_scales",
        "g_idx",
    ]
    assert dense.quantized_kernel.dtype == torch.uint8
    np.testing.assert_array_equal(
        _np(model.predict(INPUTS, verbose=0)), _np(kmodel.predict(INPUTS, verbose=0))
    )


def test_calibrated_model_stays_close_to_the_float_model():
    model, structure = _model(lamina)
    reference = _np(model(INPUTS))
    # Groups of 8 here all hold weights of both signs: like Keras, the range
    # of a group is its min and max without zero, so a group of one sign gets
    # a negative zero point wrapped into uint8 (seen with group_size=4).
    _quantize(model, _config(lamina, structure, group_size=8))
    quantized = _np(model(INPUTS))
    assert not np.array_equal(quantized, reference)
    np.testing.assert_allclose(
        quantized, reference, atol=0.15 * np.abs(reference).max()
    )


def test_files_written_by_lamina_load_in_keras_and_lamina(keras_awq, tmp_path):
    keras, kmodel, model = keras_awq
    expected = _np(model.predict(INPUTS, verbose=0))
    path = str(tmp_path / "awq.keras")
    model.save(path)
    for loaded in (keras.saving.load_model(path), lamina.saving.load_model(path)):
        np.testing.assert_array_equal(_np(loaded.predict(INPUTS, verbose=0)), expected)
    weights = str(tmp_path / "awq.weights.h5")
    model.save_weights(weights)
    for lib in (keras, lamina):
        fresh = lib.Sequential.from_config(model.get_config())
        fresh.load_weights(weights)
        np.testing.assert_array_equal(_np(fresh.predict(INPUTS, verbose=0)), expected)
    keras_file = str(tmp_path / "keras.weights.h5")
    kmodel.save_weights(keras_file)  # Keras 3.15.1 leaves kernel_zero out
    with pytest.raises(ValueError, match="kernel_zero"):
        model.load_weights(keras_file)


def test_awq_errors_match_keras_kinds():
    model, structure = _model(lamina)
    with pytest.raises(ValueError, match="must pass an `AWQConfig`"):
        model.quantize("awq")
    with pytest.raises(ValueError, match="valid quantization structure"):
        model.quantize("awq", config=_config(lamina, None))
    config = _config(lamina, structure)
    config.tokenizer = None
    with pytest.raises(ValueError, match="requires a dataset and a tokenizer"):
        model.quantize("awq", config=config)
    with pytest.raises(ValueError, match="Contradictory|contradictory"):
        model.quantize("gptq", config=config)
    assert all(layer.dtype_policy.quantization_mode is None for layer in model.layers)
