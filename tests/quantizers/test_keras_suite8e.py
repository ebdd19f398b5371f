"""Quantization behaviours found by running Keras 3's own tests on lamina."""

import os

import numpy as np
import pytest

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")

IDS = np.random.default_rng(0).integers(0, 50, size=(2, 8)).astype("int32")
HIDDEN = np.random.default_rng(1).normal(size=(2, 3, 64)).astype("float32")
CASES = [("int8", None), ("int4", -1), ("int4", 32)]


def _numpy(x):
    # A copy: a CPU tensor's .numpy() shares its memory.
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy().copy()
    return np.array(x)


def _reversible(lib, mode, block_size, tie_weights):
    inputs = lib.Input((8,), dtype="int32")
    layer = lib.layers.ReversibleEmbedding(50, 64, tie_weights=tie_weights)
    model = lib.Model(inputs, layer(inputs))
    config = None
    if mode == "int4":
        config = lib.quantizers.Int4QuantizationConfig(block_size=block_size)
    layer.quantize(mode, config=config)
    return model, layer


@pytest.mark.parametrize("tie_weights", [True, False])
@pytest.mark.parametrize("mode,block_size", CASES)
def test_reversible_embedding_quantize_variables(mode, block_size, tie_weights):
    _, layer = _reversible(lamina, mode, block_size, tie_weights)
    names = [w.path.split("/")[-1] for w in layer.weights]
    expected = ["embeddings", "embeddings_scale"]
    if block_size == 32:
        expected += ["embeddings_zero", "g_idx"]
    if not tie_weights:
        expected += ["reverse_embeddings", "reverse_embeddings_scale"]
        if block_size == 32:
            expected += ["reverse_embeddings_zero"]
    assert names == expected
    assert layer.dtype_policy.quantization_mode == mode
    assert layer.embeddings.dtype == lamina.backend.to_torch_dtype("int8")
    if not tie_weights:
        rows = 64 if mode == "int8" else 32
        assert tuple(layer.reverse_embeddings.shape) == (rows, 50)
    logits = layer(HIDDEN, reverse=True)
    assert tuple(logits.shape) == (2, 3, 50)


# Keras transposes the 1-D int8 scale with `x.T` (a torch deprecation warning).
@pytest.mark.filterwarnings("ignore:The use of `x.T`")
@pytest.mark.parametrize("tie_weights", [True, False])
@pytest.mark.parametrize("mode,block_size", CASES)
def test_reversible_embedding_quantized_files_cross_keras(
    tmp_path, mode, block_size, tie_weights
):
    """A quantized ReversibleEmbedding saved by Keras loads in lamina with the
    same lookups and logits, and the other way round."""
    keras = pytest.importorskip("keras")
    for source, target in ((keras, lamina), (lamina, keras)):
        model, layer = _reversible(source, mode, block_size, tie_weights)
        path = str(tmp_path / f"{source.__name__}.keras")
        model.save(path)
        loaded = target.saving.load_model(path).layers[-1]
        np.testing.assert_allclose(_numpy(loaded(IDS)), _numpy(layer(IDS)), atol=1e-6)
        np.testing.assert_allclose(
            _numpy(loaded(HIDDEN, reverse=True)),
            _numpy(layer(HIDDEN, reverse=True)),
            atol=1e-5,
        )


def test_reversible_embedding_quantize_close_to_float():
    layer = lamina.layers.ReversibleEmbedding(50, 64, tie_weights=False, mask_zero=True)
    layer.build()
    lookups, logits = _numpy(layer(IDS)), _numpy(layer(HIDDEN, reverse=True))
    layer.quantize("int8")
    np.testing.assert_allclose(_numpy(layer(IDS)), lookups, atol=1e-3)
    np.testing.assert_allclose(_numpy(layer(HIDDEN, reverse=True)), logits, atol=0.05)
    assert layer.compute_mask(IDS) is None


def test_reversible_embedding_quantize_refuses_subclass():
    class Sub(lamina.layers.ReversibleEmbedding):
        pass

    layer = Sub(10, 4)
    layer.build()
    with pytest.raises(NotImplementedError, match="quantize"):
        layer.quantize("int8")
    layer.quantize("int8", type_check=False)
    assert layer.dtype_policy.quantization_mode == "int8"


def test_reversible_embedding_quantize_float8_refused():
    layer = lamina.layers.ReversibleEmbedding(10, 4)
    layer.build()
    with pytest.raises(NotImplementedError):
        layer.quantize("float8")


# Keras warns that its InputLayer has no `quantize`.
@pytest.mark.filterwarnings("ignore:Layer InputLayer does not have")
def test_model_quantize_reaches_reversible_embedding_like_keras():
    keras = pytest.importorskip("keras")
    ids = np.random.default_rng(0).integers(0, 20, size=(2, 5))
    outputs, weights = [], None
    for lib in (keras, lamina):
        inputs = lib.Input((5,), dtype="int32")
        layer = lib.layers.ReversibleEmbedding(20, 8, tie_weights=False)
        hidden = lib.layers.Dense(8)(layer(inputs))
        model = lib.Model(inputs, layer(hidden, reverse=True))
        if weights is None:
            weights = model.get_weights()
        else:
            model.set_weights(weights)
        model.quantize("int8")
        assert layer.dtype_policy.name == "int8_from_float32"
        outputs.append(_numpy(model(ids)))
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-6)


# --- dtype policies -------------------------------------------------------------


@pytest.fixture
def global_policy():
    yield
    lamina.dtype_policies.set_dtype_policy(None)


@pytest.mark.parametrize("name", ["bfloat16", "mixed_float16"])
def test_dtype_policy_without_name_follows_global_policy(global_policy, name):
    lamina.dtype_policies.set_dtype_policy(name)
    assert lamina.DTypePolicy().name == name
    assert lamina.DTypePolicy(None).compute_dtype == name.replace("mixed_", "")


def test_dtype_policy_without_name_under_quantized_global(global_policy):
    lamina.dtype_policies.set_dtype_policy("int8_from_float32")
    assert lamina.DTypePolicy().name == "float32"


def test_set_dtype_policy_rejects_non_policies(global_policy):
    with pytest.raises(ValueError, match="Invalid `policy` argument"):
        lamina.dtype_policies.set_dtype_policy(12345)
    lamina.dtype_policies.set_dtype_policy(None)
    assert lamina.dtype_policies.dtype_policy().name == "float32"


@pytest.mark.parametrize("name", ["", "float15", "@mixed_float16!", "mixed_int8"])
def test_dtype_policy_bad_names(name):
    with pytest.raises(ValueError, match="Cannot convert"):
        lamina.DTypePolicy(name)
    with pytest.raises(TypeError, match="must be a string"):
        lamina.DTypePolicy(123)


def test_quantizer_config_errors_carry_keras_phrases():
    with pytest.raises(ValueError, match="block_size must be"):
        lamina.quantizers.Int4QuantizationConfig(block_size=0)
    with pytest.raises(ValueError, match="Invalid group_size. Supported values"):
        lamina.quantizers.GPTQConfig(dataset=None, tokenizer=None, group_size=0)
    with pytest.raises(TypeError, match="must be an integer"):
        lamina.dtype_policies.QuantizedFloat8DTypePolicy(
            "float8", "float32", amax_history_length="512"
        )


def test_quantize_unbuilt_layer_message():
    with pytest.raises(
        ValueError, match="Cannot quantize a layer that isn't yet built"
    ):
        lamina.layers.Dense(2).quantize("int8")


# --- LoRA on int4 layers ------------------------------------------------------------

INT4_LORA_LAYERS = [
    ("Dense", {"units": 16}, (None, 8), "float32"),
    (
        "EinsumDense",
        {"equation": "ab,bc->ac", "output_shape": 16},
        (None, 8),
        "float32",
    ),
    ("Embedding", {"input_dim": 20, "output_dim": 16}, (None, 4), "int32"),
]


def _int4_lora_model(lib, name, kwargs, shape, dtype, block_size, weights):
    inputs = lib.Input(shape[1:], dtype=dtype)
    layer = getattr(lib.layers, name)(**kwargs)
    model = lib.Model(inputs, layer(inputs))
    model.set_weights(weights)
    layer.enable_lora(2)
    pair = ("lora_embeddings" if name == "Embedding" else "lora_kernel") + "_{}"
    rng = np.random.default_rng(3)
    for part in "ab":
        variable = getattr(layer, pair.format(part))
        variable.assign(0.1 * rng.normal(size=tuple(variable.shape)).astype("float32"))
    config = lib.quantizers.Int4QuantizationConfig(block_size=block_size)
    layer.quantize("int4", config=config)
    return model, layer


def _data(shape, dtype):
    rng = np.random.default_rng(4)
    if dtype == "int32":
        return rng.integers(0, 20, size=(3,) + shape[1:]).astype("int32")
    return rng.normal(size=(3,) + shape[1:]).astype("float32")


@pytest.mark.parametrize("block_size", [None, 4])
@pytest.mark.parametrize("name,kwargs,shape,dtype", INT4_LORA_LAYERS)
def test_int4_lora_outputs_and_files_match_keras(
    tmp_path, name, kwargs, shape, dtype, block_size
):
    """Same float weights and LoRA pair: lamina and Keras compute the same
    int4 + LoRA outputs, and write the same merged, re-quantized files."""
    keras = pytest.importorskip("keras")
    x = _data(shape, dtype)
    inputs = keras.Input(shape[1:], dtype=dtype)
    weights = keras.Model(inputs, getattr(keras.layers, name)(**kwargs)(inputs))
    weights = weights.get_weights()
    outputs, files = [], []
    for lib in (keras, lamina):
        model, layer = _int4_lora_model(
            lib, name, kwargs, shape, dtype, block_size, weights
        )
        assert layer.lora_enabled
        assert layer.dtype_policy.quantization_mode == "int4"
        outputs.append(_numpy(model(x)))
        files.append(str(tmp_path / f"{lib.__name__}.keras"))
        model.save(files[-1])
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-4)
    reloaded = [_numpy(lamina.saving.load_model(path)(x)) for path in files]
    np.testing.assert_allclose(reloaded[1], reloaded[0], atol=1e-4)
    assert lamina.saving.load_model(files[1]).layers[-1].lora_enabled
    np.testing.assert_allclose(
        _numpy(keras.saving.load_model(files[1])(x)), reloaded[1], atol=1e-5
    )


def test_int4_lora_trains_the_pair_only():
    layer = lamina.layers.Dense(4)
    model = lamina.Sequential([lamina.Input((3,)), layer])
    layer.enable_lora(2)
    layer.quantize("int4")
    a, b = _numpy(layer.lora_kernel_a), _numpy(layer.lora_kernel_b)
    kernel = _numpy(layer.kernel)
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model.fit(x, np.ones((8, 4)), epochs=2, batch_size=4, verbose=0)
    np.testing.assert_array_equal(_numpy(layer.kernel), kernel)
    assert np.abs(_numpy(layer.lora_kernel_a) - a).max() > 0
    assert np.abs(_numpy(layer.lora_kernel_b) - b).max() > 0
