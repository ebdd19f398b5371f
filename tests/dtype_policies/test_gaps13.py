"""DTypePolicyMap configs as Keras 3.15 writes them: a map without a default
policy defers to the global policy at load time, its entries too."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest

import lamina
from lamina import dtype_policies


@pytest.fixture
def global_policy():
    def set_policy(name):
        lamina.config.set_dtype_policy(name)

    yield set_policy
    lamina.config.set_dtype_policy("float32")


def _map(lib, default):
    policies = lib.dtype_policies.DTypePolicyMap(default)
    policies["dense"] = "bfloat16"
    policies["block/.*"] = lib.dtype_policies.DTypePolicy("float32")
    policies["quantized"] = lib.dtype_policies.QuantizedDTypePolicy("int8", "float32")
    return policies


def _entries(policies):
    return {
        key: (policy.name, policy.compute_dtype, policy.variable_dtype)
        for key, policy in policies.items()
    }


def test_a_map_without_default_writes_its_entries_without_dtypes(global_policy):
    policies = _map(lamina, None)
    config = policies.get_config()
    written = {key: entry["config"] for key, entry in config["policy_map"].items()}
    assert written == {
        "dense": {"name": None},
        "block/.*": {"name": None},
        "quantized": {"mode": "int8", "source_name": None},
    }
    # The map itself keeps its entries (Keras clears their names in place).
    assert _entries(policies)["dense"] == ("bfloat16", "bfloat16", "bfloat16")
    global_policy("mixed_bfloat16")
    loaded = dtype_policies.DTypePolicyMap.from_config(json.loads(json.dumps(config)))
    assert _entries(loaded) == {
        "dense": ("mixed_bfloat16", "bfloat16", "float32"),
        "block/.*": ("mixed_bfloat16", "bfloat16", "float32"),
        "quantized": ("int8_from_mixed_bfloat16", "bfloat16", "float32"),
    }
    assert loaded["block/dense"].name == "mixed_bfloat16"
    assert loaded.default_policy.name == "mixed_bfloat16"


@pytest.mark.parametrize("default", ["float32", "bfloat16"])
def test_a_map_with_a_default_keeps_its_entries_under_any_global_policy(
    global_policy, default
):
    config = json.loads(json.dumps(_map(lamina, default).get_config()))
    global_policy("mixed_bfloat16")
    loaded = dtype_policies.DTypePolicyMap.from_config(config)
    assert _entries(loaded) == {
        "dense": ("bfloat16", "bfloat16", "bfloat16"),
        "block/.*": ("float32", "float32", "float32"),
        "quantized": ("int8_from_float32", "float32", "float32"),
    }
    assert loaded.default_policy.name == default


@pytest.mark.parametrize("default", [None, "float32"])
def test_map_configs_match_keras(global_policy, default):
    keras = pytest.importorskip("keras")
    try:
        global_policy("mixed_bfloat16")
        keras.config.set_dtype_policy("mixed_bfloat16")
        ours = _map(lamina, default).get_config()
        theirs = keras.saving.serialize_keras_object(_map(keras, default).get_config())
    finally:
        keras.config.set_dtype_policy("float32")
    assert ours == theirs
    # Each loads the other's config into the same entries.
    global_policy("bfloat16")
    keras.config.set_dtype_policy("bfloat16")
    try:
        from_theirs = dtype_policies.DTypePolicyMap.from_config(theirs)
        from_ours = keras.dtype_policies.DTypePolicyMap.from_config(dict(ours))
    finally:
        keras.config.set_dtype_policy("float32")
    assert _entries(from_theirs) == _entries(from_ours)
