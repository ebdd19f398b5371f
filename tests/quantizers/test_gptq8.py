"""GPTQ quantization: config, policy, calibration and files, against Keras 3.

Keras 3.15.1 never records a Hessian during `model.quantize("gptq")`: its
capture hook wraps `layer.call`, but quantized layers run `_gptq_call`, so
every Hessian stays zero. lamina records them. The end-to-end comparisons
therefore run Keras with that hook fixed (`_keras_capture_fixed`); with equal
Hessians, both give bit-identical quantized variables and outputs.
"""

import contextlib
import os
import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import dtype_policies, layers, quantizers
from lamina.quantizers.gptq import GPTQ

os.environ.setdefault("KERAS_BACKEND", "torch")

TOKENS = np.random.default_rng(0).integers(0, 50, size=(300,)).astype("int32")
INPUTS = np.random.default_rng(1).integers(0, 50, size=(2, 6)).astype("int32")


def _model(lib, seed=0):
    """Embedding, Dense, a block of two 3-D EinsumDense (projection in and
    out), Dense without bias."""
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
    return model, {
        "pre_block_layers": [embedding],
        "sequential_blocks": [dense, block, last],
    }


def _config(lib, structure, **kwargs):
    settings = dict(num_samples=5, sequence_length=6, group_size=8)
    settings.update(kwargs)
    return lib.quantizers.GPTQConfig(
        dataset=[TOKENS],
        tokenizer=lambda text: text,
        quantization_layer_structure=structure,
        **settings,
    )


def _quantize(model, config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Embedding and InputLayer are skipped
        model.quantize("gptq", config=config)


def _variables(model):
    return [
        (v.name, tuple(v.shape), lamina.backend.standardize_dtype(v.dtype), _np(v))
        for v in model.weights
    ]


def _np(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


@contextlib.contextmanager
def _keras_capture_fixed(layers_map, states):
    """Keras's `stream_hessians`, hooking the call quantized layers run."""
    from keras import ops

    for name, layer in layers_map.items():
        original = layer._gptq_call

        def hook(*args, _name=name, _original=original, **kwargs):
            x = args[0] if args else kwargs["inputs"]
            state = states[_name]
            state.update_hessian_with_batch(ops.reshape(x, (-1, state.rows)))
            return _original(*args, **kwargs)

        layer._gptq_call = hook
    try:
        yield
    finally:
        for layer in layers_map.values():
            del layer._gptq_call


@pytest.fixture(scope="module")
def keras_gptq():
    """A Keras model quantized with settings covering 4-bit packing, groups
    and activation order, and the lamina model with the same float weights."""
    keras = pytest.importorskip("keras")
    from keras.src.quantizers import gptq_core

    kmodel, kstructure = _model(keras)
    float_weights = kmodel.get_weights()
    settings = dict(weight_bits=4, activation_order=True)
    original = gptq_core.stream_hessians
    gptq_core.stream_hessians = _keras_capture_fixed
    try:
        _quantize(kmodel, _config(keras, kstructure, **settings))
    finally:
        gptq_core.stream_hessians = original
    model, structure = _model(lamina)
    model.set_weights(float_weights)
    _quantize(model, _config(lamina, structure, **settings))
    return keras, kmodel, model, float_weights


# --- config and policy ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weight_bits": 5}, "Unsupported weight_bits"),
        ({"num_samples": 0}, "num_samples must be a positive"),
        ({"sequence_length": -1}, "sequence_length must be a positive"),
        ({"hessian_damping": 1.5}, "hessian_damping must be between"),
        ({"group_size": 0}, "Invalid group_size"),
        ({"group_size": -2}, "Invalid group_size"),
    ],
)
def test_config_rejects_bad_values_as_keras_does(kwargs, match):
    with pytest.raises(ValueError, match=match):
        quantizers.GPTQConfig(dataset=None, tokenizer=None, **kwargs)


def test_config_defaults_round_trip_and_match_keras():
    keras = pytest.importorskip("keras")
    ours = quantizers.GPTQConfig(dataset=None, tokenizer=None, group_size=64)
    theirs = keras.quantizers.GPTQConfig(dataset=None, tokenizer=None, group_size=64)
    assert ours.get_config() == theirs.get_config()
    assert ours.mode == "gptq" and ours.dtype_policy_string() == "gptq/4/64"
    again = quantizers.GPTQConfig.from_config(ours.get_config())
    assert again.__dict__ == ours.__dict__
    # A structure of live layers is not written (Keras recurses on it).
    layer = layers.Dense(2)
    structure = {"pre_block_layers": [], "sequential_blocks": [layer]}
    config = quantizers.GPTQConfig(None, None, quantization_layer_structure=structure)
    assert config.get_config()["quantization_layer_structure"] is None


def test_policy_names_configs_and_errors_match_keras():
    keras = pytest.importorskip("keras")
    ours = dtype_policies.get("gptq/3/-1_from_bfloat16")
    theirs = keras.dtype_policies.get("gptq/3/-1_from_bfloat16")
    assert isinstance(ours, dtype_policies.GPTQDTypePolicy)
    assert (ours.name, ours.weight_bits, ours.group_size, ours.compute_dtype) == (
        theirs.name,
        theirs.weight_bits,
        theirs.group_size,
        theirs.compute_dtype,
    )
    assert dtype_policies.serialize(ours) == keras.dtype_policies.serialize(theirs)
    assert dtype_policies.deserialize(keras.dtype_policies.serialize(theirs)) == ours
    for mode in ("gptq/4", "gptq/x/128", "gptq/5/128", "gptq/4/0", "int4/4/128"):
        with pytest.raises(ValueError, match="GPTQDTypePolicy"):
            dtype_policies.GPTQDTypePolicy(mode, "float32")


# --- the arithmetic against Keras's GPTQ --------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        dict(weight_bits=4, group_size=8),
        dict(weight_bits=3, group_size=4, activation_order=True),
        dict(weight_bits=8, group_size=-1, symmetric=True),
        dict(weight_bits=2, group_size=-1, per_channel=False),
    ],
)
def test_hessian_and_quantized_variables_equal_keras_bit_for_bit(settings):
    keras = pytest.importorskip("keras")
    from keras.src.quantizers.gptq import GPTQ as KerasGPTQ

    layer = keras.layers.Dense(12)
    layer.build((None, 16))
    kernel = torch.as_tensor(_np(layer.kernel))
    kconfig = keras.quantizers.GPTQConfig(None, None, **settings)
    theirs = KerasGPTQ(layer, kconfig)
    ours = GPTQ(kernel, quantizers.GPTQConfig(None, None, **settings))
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = rng.normal(size=(2, 5, 16)).astype("float32")
        theirs.update_hessian_with_batch(keras.ops.convert_to_tensor(x))
        ours.update_hessian_with_batch(torch.as_tensor(x))
    np.testing.assert_array_equal(_np(ours.hessian), _np(theirs.hessian))
    levels, scale, zero, g_idx = ours.quantize()
    layer.quantize("gptq", config=kconfig)
    theirs.quantize_and_correct_layer()
    if settings["weight_bits"] == 4:
        levels = quantizers.pack_int4(levels.to(torch.uint8), axis=0, dtype="uint8")[0]
    np.testing.assert_array_equal(_np(levels), _np(layer.quantized_kernel))
    np.testing.assert_array_equal(_np(scale), _np(layer.kernel_scale))
    np.testing.assert_array_equal(_np(zero), _np(layer.kernel_zero))
    np.testing.assert_array_equal(_np(g_idx), _np(layer.g_idx))


# --- model.quantize end to end ----------------------------------------------------------


def test_model_variables_and_outputs_equal_keras(keras_gptq):
    keras, kmodel, model, _ = keras_gptq
    theirs, ours = _variables(kmodel), _variables(model)
    assert [v[:3] for v in ours] == [v[:3] for v in theirs]
    for (path, *_, a), (_, *_, b) in zip(ours, theirs):
        np.testing.assert_array_equal(a, b, err_msg=path)
    dense = model.layers[1]
    assert dense.dtype_policy.name == "gptq/4/8_from_float32"
    assert dense.is_gptq_calibrated and not hasattr(dense, "kernel")
    assert [w.name for w in dense.weights] == [
        "bias",
        "kernel",
        "kernel_scale",
        "kernel_zero",
        "g_idx",
    ]
    np.testing.assert_array_equal(
        _np(model.predict(INPUTS, verbose=0)), _np(kmodel.predict(INPUTS, verbose=0))
    )


def test_calibrated_model_stays_close_to_the_float_model():
    model, structure = _model(lamina)
    reference = _np(model(INPUTS))
    _quantize(model, _config(lamina, structure, weight_bits=8, group_size=-1))
    quantized = _np(model(INPUTS))
    assert not np.array_equal(quantized, reference)
    np.testing.assert_allclose(
        quantized, reference, atol=0.02 * np.abs(reference).max()
    )


def test_string_dataset_goes_through_the_tokenizer():
    class Tokenizer:
        def tokenize(self, text):
            return np.array([ord(c) % 50 for c in text], dtype="int32")

    model, structure = _model(lamina)
    config = _config(lamina, structure, weight_bits=8)
    config.dataset, config.tokenizer = ["some calibration text", "more"], Tokenizer()
    _quantize(model, config)
    assert model.layers[1].is_gptq_calibrated


def test_files_written_by_lamina_load_in_keras_and_lamina(keras_gptq, tmp_path):
    keras, _, model, _ = keras_gptq
    expected = _np(model.predict(INPUTS, verbose=0))
    path = str(tmp_path / "gptq.keras")
    model.save(path)
    for loaded in (keras.saving.load_model(path), lamina.saving.load_model(path)):
        np.testing.assert_array_equal(_np(loaded.predict(INPUTS, verbose=0)), expected)
    weights = str(tmp_path / "gptq.weights.h5")
    model.save_weights(weights)
    kmodel = keras.Sequential.from_config(model.get_config())
    kmodel.load_weights(weights)
    np.testing.assert_array_equal(_np(kmodel.predict(INPUTS, verbose=0)), expected)
    ours = lamina.Sequential.from_config(model.get_config())
    ours.load_weights(weights)
    np.testing.assert_array_equal(_np(ours.predict(INPUTS, verbose=0)), expected)


def test_keras_gptq_file_without_kernel_zero_is_refused_clearly(keras_gptq, tmp_path):
    keras, kmodel, model, _ = keras_gptq
    path = str(tmp_path / "keras.weights.h5")
    kmodel.save_weights(path)  # Keras 3.15.1 leaves kernel_zero out
    with pytest.raises(ValueError, match="kernel_zero"):
        model.load_weights(path)


# --- errors ------------------------------------------------------------------------------


def test_gptq_without_config_is_a_value_error_as_in_keras():
    model, _ = _model(lamina)
    with pytest.raises(ValueError, match="must pass a `GPTQConfig`"):
        model.quantize("gptq")
    with pytest.raises(ValueError, match="must pass a `GPTQConfig`"):
        model.layers[1].quantize("gptq")


def test_missing_structure_or_data_fails_before_any_layer_changes():
    model, structure = _model(lamina)
    with pytest.raises(ValueError, match="valid quantization structure"):
        model.quantize("gptq", config=_config(lamina, None))
    config = _config(lamina, structure)
    config.dataset = None
    with pytest.raises(ValueError, match="requires a dataset and a tokenizer"):
        model.quantize("gptq", config=config)
    assert all(layer.dtype_policy.quantization_mode is None for layer in model.layers)


def test_structure_can_come_from_the_model_hook():
    model, structure = _model(lamina)

    class Hooked(lamina.Sequential):
        def get_quantization_layer_structure(self, mode=None):
            assert mode == "gptq"
            return structure

    hooked = Hooked([lamina.Input((6,), dtype="int32"), *model.layers])
    _quantize(hooked, _config(lamina, None, weight_bits=8))
    assert all(
        layer.is_gptq_calibrated
        for layer in hooked._flatten_layers()
        if isinstance(layer, (layers.Dense, layers.EinsumDense))
    )
