"""DTypePolicyMap, FloatDTypePolicy and the serialize/deserialize/get trio,
compared with Keras 3 where it is installed."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402

from lamina import dtype_policies  # noqa: E402
from lamina.dtype_policies import (  # noqa: E402
    DTypePolicy,
    DTypePolicyMap,
    FloatDTypePolicy,
)


def _map():
    policies = DTypePolicyMap(default_policy="float32")
    policies["encoder/layer_0/dense"] = "bfloat16"
    policies["encoder/.*"] = DTypePolicy("float16")
    policies["decoder"] = "mixed_bfloat16"
    return policies


def test_lookup_exact_then_regex_then_default():
    policies = _map()
    assert policies["encoder/layer_0/dense"].name == "bfloat16"
    assert policies["encoder/attention/query"].name == "float16"
    assert policies["decoder"].name == "mixed_bfloat16"
    # No prefix matching: "decoder" is not a pattern for its children.
    assert policies["decoder/attention"].name == "float32"
    assert len(policies) == 3 and list(policies)[0] == "encoder/layer_0/dense"


def test_path_matching_two_patterns_is_refused():
    policies = _map()
    policies["encoder/attention/.*"] = "bfloat16"
    with pytest.raises(ValueError, match="matches several keys"):
        policies["encoder/attention/query"]


def test_duplicate_key_and_bad_value_are_refused():
    policies = _map()
    with pytest.raises(ValueError, match="already has the key"):
        policies["decoder"] = "float32"
    with pytest.raises(ValueError, match="must be a dtype policy"):
        policies["other"] = 3.5
    del policies["decoder"]
    assert "decoder" not in policies


def test_map_acts_as_its_default_policy():
    policies = DTypePolicyMap("mixed_float16")
    assert policies.name == "map_mixed_float16"
    assert (policies.compute_dtype, policies.variable_dtype) == ("float16", "float32")
    assert policies.quantization_mode is None
    assert DTypePolicyMap().default_policy == dtype_policies.dtype_policy()


def test_constructor_validates_arguments():
    with pytest.raises(ValueError, match="plain dtype policy"):
        DTypePolicyMap(DTypePolicyMap())
    with pytest.raises(TypeError, match="must be a dict|to be a dict"):
        DTypePolicyMap(policy_map=[("a", "float16")])


def test_serialize_round_trip():
    policies = _map()
    config = json.loads(json.dumps(dtype_policies.serialize(policies)))
    restored = dtype_policies.deserialize(config)
    assert isinstance(restored, DTypePolicyMap)
    assert restored == policies
    assert restored["encoder/x"].name == "float16"
    assert dtype_policies.get(config) == policies


def test_float_dtype_policy_is_an_alias():
    policy = FloatDTypePolicy("bfloat16")
    assert policy == DTypePolicy("bfloat16")
    assert repr(policy) == '<DTypePolicy "bfloat16">'
    config = {
        "module": "keras",
        "class_name": "FloatDTypePolicy",
        "config": {"name": "float16"},
    }
    assert dtype_policies.get(config).compute_dtype == "float16"


@pytest.mark.parametrize(
    "identifier",
    [
        "int8_from_float32",
        "float8_from_mixed_bfloat16",
        {
            "module": "keras.dtype_policies",
            "class_name": "QuantizedDTypePolicy",
            "config": {"mode": "int8", "source_name": "float32"},
        },
        {
            "module": "keras.dtype_policies",
            "class_name": "Int4DTypePolicy",
            "config": {"mode": "int4/128", "source_name": "float32"},
        },
    ],
)
def test_quantized_policies_resolve_to_their_classes(identifier):
    policy = dtype_policies.get(identifier)
    assert policy.quantization_mode in ("int8", "float8", "int4")
    assert type(policy).__name__ in (
        "QuantizedDTypePolicy",
        "QuantizedFloat8DTypePolicy",
        "Int4DTypePolicy",
    )


def test_layer_accepts_a_map_as_dtype():
    from lamina import layers

    layer = layers.Dense(2, dtype=DTypePolicyMap("bfloat16"))
    assert layer.compute_dtype == "bfloat16"


def test_same_lookups_and_config_as_keras():
    keras = pytest.importorskip("keras")
    kd = keras.dtype_policies
    theirs = kd.DTypePolicyMap(default_policy="float32")
    theirs["encoder/layer_0/dense"] = "bfloat16"
    theirs["encoder/.*"] = kd.DTypePolicy("float16")
    theirs["decoder"] = "mixed_bfloat16"
    ours = _map()
    for path in ["encoder/layer_0/dense", "encoder/a/b", "decoder", "decoder/x", "z"]:
        assert ours[path].name == theirs[path].name
    assert (ours.name, ours.compute_dtype, len(ours)) == (
        theirs.name,
        theirs.compute_dtype,
        len(theirs),
    )
    ours_config = dtype_policies.serialize(ours)
    assert ours_config == kd.serialize(theirs)
    # Each side reads the other's config.
    assert kd.deserialize(ours_config)["encoder/q"].name == "float16"
    assert dtype_policies.deserialize(kd.serialize(theirs)) == ours
    assert set(dtype_policies.__all__) >= {
        n
        for n in dir(kd)
        if not n.startswith("_") and "Quantized" not in n and n != "Int4DTypePolicy"
    }
