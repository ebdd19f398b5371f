"""Quantization gaps found by Keras's own tests (session 9), against Keras 3.

Setting a quantized `dtype_policy` on a built layer, `DTypePolicyMap`s holding
GPTQ / AWQ policies, and LoRA on float8 / GPTQ / AWQ layers.
"""

import os
import warnings

import numpy as np
import pytest
import torch

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

X = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")


def _np(x):
    if isinstance(x, torch.Tensor):
        return lamina.ops.convert_to_numpy(x)
    return keras.ops.convert_to_numpy(x)


def _variables(layer):
    return [
        (v.name, tuple(v.shape), lamina.backend.standardize_dtype(v.dtype))
        for v in layer.weights
    ]


def _built(lib, kind, weights=None, **kwargs):
    if kind == "dense":
        layer = lib.layers.Dense(4, **kwargs)
        layer.build((None, 8))
    elif kind == "einsum":
        layer = lib.layers.EinsumDense("ab,bc->ac", 4, bias_axes="c", **kwargs)
        layer.build((None, 8))
    else:
        layer = lib.layers.Embedding(6, 4, **kwargs)
        layer.build((None,))
    if weights is not None:
        layer.set_weights(weights)
    return layer


# --- 2. a quantized dtype_policy set on a built layer quantizes it ----------------------


@pytest.mark.parametrize(
    "kind, policy",
    [
        ("dense", "int8_from_float32"),
        ("dense", "int4_from_float32"),
        ("dense", "float8_from_float32"),
        ("einsum", "int8_from_float32"),
        ("embedding", "int8_from_float32"),
        ("embedding", "int4_from_float32"),
    ],
)
def test_setting_a_quantized_policy_quantizes_as_keras(kind, policy):
    float_weights = _built(keras, kind).get_weights()
    inputs = np.array([[0, 5, 2]]) if kind == "embedding" else X
    results = []
    for lib in (keras, lamina):
        layer = _built(lib, kind, float_weights)
        layer.dtype_policy = policy
        results.append((layer, _variables(layer), _np(layer(inputs))))
    (_, theirs, expected), (layer, ours, got) = results
    assert ours == theirs
    assert layer.dtype_policy.name == policy and layer.quantization_mode
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_policy_object_quantizes_and_an_already_quantized_layer_only_records():
    layer = _built(lamina, "dense")
    layer.dtype_policy = lamina.dtype_policies.QuantizedDTypePolicy("int8", "float32")
    assert _variables(layer)[1:] == [
        ("kernel", (8, 4), "int8"),
        ("kernel_scale", (4,), "float32"),
    ]
    layer.dtype_policy = "int8_from_float32"  # no second quantize (Keras neither)
    assert [v.name for v in layer.weights] == ["bias", "kernel", "kernel_scale"]


@pytest.mark.parametrize(
    "kind, policy, error, match",
    [
        ("dense", "gptq/4/-1_from_float32", ValueError, "GPTQ"),
        ("dense", "awq/4/128_from_float32", ValueError, "AWQConfig"),
        ("embedding", "float8_from_float32", NotImplementedError, "float8"),
    ],
)
def test_unsupported_policies_fail_as_in_keras_and_keep_the_layer(
    kind, policy, error, match
):
    with pytest.raises(error):
        _built(keras, kind).dtype_policy = policy
    layer = _built(lamina, kind)
    before = _variables(layer)
    with pytest.raises(error, match=match):
        layer.dtype_policy = policy
    assert layer.dtype_policy.name == "float32" and _variables(layer) == before


def test_convolution_refuses_a_quantized_policy_once_built_as_keras():
    for lib in (keras, lamina):
        conv = lib.layers.Conv2D(2, 3)
        conv.build((None, 5, 5, 1))
        with pytest.raises(NotImplementedError, match="does not have a `quantize`"):
            conv.dtype_policy = "int8_from_float32"
    unbuilt = lamina.layers.Conv2D(2, 3)
    unbuilt.dtype_policy = "int8_from_float32"  # recorded only, as in Keras
    assert unbuilt.dtype_policy.name == "int8_from_float32"


# --- 5. DTypePolicyMap with GPTQ and AWQ entries -------------------------------------


def _policy_map(lib, entries):
    policies = lib.dtype_policies.DTypePolicyMap("float32")
    for key, value in entries.items():
        policies[key] = value
    return policies


def test_policy_map_looks_up_and_serializes_gptq_and_awq_as_keras():
    entries = {"dense": "gptq/4/-1_from_float32", "enc/.*": "awq/4/128_from_bfloat16"}
    configs, lookups = [], []
    for lib in (keras, lamina):
        policies = _policy_map(lib, entries)
        config = lib.saving.serialize_keras_object(policies)
        restored = lib.saving.deserialize_keras_object(config)
        configs.append(config)
        lookups.append(
            [
                (type(p).__name__, p.name, p.quantization_mode, p.group_size)
                for p in (restored["dense"], restored["enc/attention"])
            ]
        )
    assert configs[1] == configs[0]
    assert lookups[1] == lookups[0]
    assert lookups[1][0][:3] == ("GPTQDTypePolicy", "gptq/4/-1_from_float32", "gptq")


@pytest.mark.parametrize("kind", ["dense", "einsum"])
@pytest.mark.parametrize("policy", ["gptq/4/-1_from_float32", "awq/4/4_from_float32"])
def test_layer_under_a_map_builds_its_entry_as_keras(kind, policy):
    built = []
    for lib in (keras, lamina):
        layer = _built(lib, kind, dtype=_policy_map(lib, {"q": policy}), name="q")
        built.append((_variables(layer), layer.quantization_mode))
    assert built[1] == built[0]
    assert built[1][1] == policy.split("/")[0]


def test_quantize_writes_the_entry_of_a_layer_holding_a_map():
    # Keras 3.15 fails here ("Cannot convert 'map_float32' ..."); lamina
    # quantizes from the layer's own entry and records the result under its path.
    policies = _policy_map(lamina, {"other": "bfloat16"})
    layer = _built(lamina, "dense", dtype=policies, name="d")
    layer.quantize("int8")
    assert policies["d"].name == "int8_from_float32"
    assert layer.quantization_mode == "int8"
    assert [v.name for v in layer.weights] == ["bias", "kernel", "kernel_scale"]


def _block_class():
    @lamina.saving.register_keras_serializable("gaps9")
    class AttentionBlock(lamina.layers.Layer):
        """Self-attention whose config records its quantized sublayers' policies
        in a DTypePolicyMap (Keras's pattern for composite layers)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.attention = lamina.layers.MultiHeadAttention(
                2, 4, name="mha", dtype=self.dtype_policy
            )

        def build(self, input_shape):
            self.attention.build(input_shape, input_shape)

        def call(self, x):
            return self.attention(x, x)

        def get_config(self):
            config = super().get_config()
            policies = lamina.dtype_policies.DTypePolicyMap()
            for layer in self._flatten_layers():
                if layer.dtype_policy.quantization_mode is not None:
                    policies[layer.path] = layer.dtype_policy
            if len(policies):
                config["dtype"] = policies
            return config

    return AttentionBlock


def test_gptq_policies_in_a_map_survive_save_and_load(tmp_path):
    lamina.utils.set_random_seed(0)
    inputs = lamina.Input((6,), dtype="int32")
    embedding = lamina.layers.Embedding(50, 8)
    block = _block_class()(name="block")
    model = lamina.Model(inputs, block(embedding(inputs)))
    tokens = np.random.default_rng(0).integers(0, 50, size=(200,)).astype("int32")
    config = lamina.quantizers.GPTQConfig(
        dataset=[tokens],
        tokenizer=lambda text: text,
        weight_bits=4,
        group_size=4,
        num_samples=4,
        sequence_length=6,
        quantization_layer_structure={
            "pre_block_layers": [embedding],
            "sequential_blocks": [block],
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.quantize("gptq", config=config)
    ids = np.random.default_rng(1).integers(0, 50, size=(2, 6)).astype("int32")
    expected = _np(model(ids))
    path = str(tmp_path / "gptq_map.keras")
    model.save(path)
    loaded = lamina.saving.load_model(path)
    query = loaded.get_layer("block").attention._query_dense
    assert isinstance(query.dtype_policy, lamina.dtype_policies.DTypePolicyMap)
    assert query.quantization_mode == "gptq"
    assert dict(_variables(query)[i][::2] for i in range(5)) == {
        "bias": "float32",
        "kernel": "uint8",
        "kernel_scale": "float32",
        "zero_point": "uint8",
        "g_idx": "float32",
    }
    np.testing.assert_array_equal(_np(loaded(ids)), expected)


# --- 6. LoRA on float8, GPTQ and AWQ layers ------------------------------------------


@pytest.mark.parametrize("kind", ["dense", "einsum"])
@pytest.mark.parametrize("lora_first", [False, True])
def test_lora_on_float8_layers_has_keras_variables(kind, lora_first):
    names = []
    for lib in (keras, lamina):
        lib.utils.set_random_seed(0)
        layer = _built(lib, kind)
        if lora_first:
            layer.enable_lora(2)
        layer.quantize("float8")
        if not lora_first:
            layer.enable_lora(2)
        names.append(
            ([v.name for v in layer.weights], [v.name for v in layer.trainable_weights])
        )
    assert names[1] == names[0]


@pytest.mark.parametrize("kind", ["dense", "einsum"])
def test_lora_on_float8_layers_adds_the_low_rank_product(kind, tmp_path):
    # Keras 3.15 refuses to call (or save) such a layer; lamina adds LoRA's
    # product of the inputs to the float8 product, as on int8 layers.
    lamina.utils.set_random_seed(0)
    layer = _built(lamina, kind)
    plain = _built(lamina, kind, layer.get_weights())
    layer.quantize("float8")
    plain.quantize("float8")
    layer.enable_lora(2)
    np.testing.assert_array_equal(_np(layer(X)), _np(plain(X)))  # B starts at zero
    with torch.no_grad():
        layer.lora_kernel_b.copy_(torch.randn(2, 4))
    delta = _np(layer.lora_kernel_a) @ _np(layer.lora_kernel_b)
    np.testing.assert_allclose(_np(layer(X)) - _np(plain(X)), X @ delta, atol=1e-5)

    model = lamina.Sequential([lamina.Input((8,)), layer])
    path = str(tmp_path / "float8_lora.weights.h5")
    model.save_weights(path)  # the merged float kernel, in the float8 layout
    merged = _np(layer.kernel if kind == "dense" else layer._kernel) + delta
    fresh = lamina.Sequential([lamina.Input((8,)), _built(lamina, kind)])
    fresh.layers[0].quantize("float8")
    fresh.load_weights(path)
    kernel = fresh.layers[0].kernel if kind == "dense" else fresh.layers[0]._kernel
    np.testing.assert_allclose(_np(kernel), merged, rtol=1e-6)

    model.compile("sgd", "mse")
    before = _np(layer.lora_kernel_a).copy()
    model.fit(X, np.zeros((3, 4), "float32"), epochs=1, verbose=0)
    assert not np.array_equal(_np(layer.lora_kernel_a), before)


@pytest.mark.parametrize("policy", ["gptq/4/-1_from_float32", "awq/4/4_from_float32"])
def test_lora_on_gptq_and_awq_layers_is_refused(policy):
    layer = _built(lamina, "dense", dtype=policy)
    mode = policy.split("/")[0].upper()
    with pytest.raises(
        NotImplementedError, match=f"not currently supported with {mode}"
    ):
        layer.enable_lora(2)
    if mode == "GPTQ":  # Keras's error (its AWQ layers fail with an AttributeError)
        with pytest.raises(NotImplementedError, match="not currently supported"):
            _built(keras, "dense", dtype=policy).enable_lora(2)
