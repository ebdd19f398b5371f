"""Serialization corners as Keras 3 has them: a serialized dtype policy in a
layer config becomes a policy object before the constructor sees it (a
quantized policy or a DTypePolicyMap as the object, a plain one as its name),
and an op node's serialized arguments are deserialized."""

import json

import numpy as np
import pytest

import lamina
from lamina import dtype_policies
from lamina.dtype_policies import _config_with_policy
from lamina.layers.core.op_layer import OpLayer


@pytest.mark.parametrize("name", ["bfloat16", "mixed_float16", "float32"])
def test_plain_policy_in_a_config_becomes_its_name(name):
    config = lamina.layers.Dense(2, dtype=name).get_config()
    assert isinstance(config["dtype"], dict)
    assert _config_with_policy(config)["dtype"] == name


@pytest.mark.parametrize(
    "name, cls",
    [
        ("int8_from_bfloat16", dtype_policies.QuantizedDTypePolicy),
        ("float8_from_float32", dtype_policies.QuantizedFloat8DTypePolicy),
    ],
)
def test_quantized_policy_in_a_config_becomes_the_policy(name, cls):
    config = lamina.layers.Dense(2, dtype=name).get_config()
    policy = _config_with_policy(config)["dtype"]
    assert type(policy) is cls
    assert policy.name == name and policy.quantization_mode is not None
    assert isinstance(config["dtype"], dict)  # the argument is not changed


def test_policy_map_in_a_config_becomes_the_map():
    policy_map = dtype_policies.DTypePolicyMap()
    policy_map["model/dense"] = dtype_policies.get("int8_from_float32")
    config = {"name": "dense", "dtype": dtype_policies.serialize(policy_map)}
    policy = _config_with_policy(config)["dtype"]
    assert isinstance(policy, dtype_policies.DTypePolicyMap)
    assert policy["model/dense"].quantization_mode == "int8"


def test_configs_without_a_serialized_policy_are_unchanged():
    for config in ({"units": 2}, {"dtype": "float16"}, {"dtype": None}):
        assert _config_with_policy(config) is config


def test_policy_from_config_matches_keras():
    keras = pytest.importorskip("keras")
    for name in ("bfloat16", "int8_from_bfloat16"):
        config = keras.layers.Dense(2, dtype=name).get_config()
        policy = _config_with_policy(json.loads(json.dumps(config)))["dtype"]
        expected = keras.dtype_policies.get(name)
        if expected.quantization_mode is None:
            assert policy == expected.name
        else:
            assert policy.name == expected.name
            assert policy.quantization_mode == expected.quantization_mode


def test_op_config_arguments_are_deserialized_and_serialized_again():
    config = {
        "module": "keras.src.ops.core",
        "class_name": "VectorizedMap",
        "config": {
            "name": "vmap",
            "function": {
                "module": "keras.activations",
                "class_name": "function",
                "config": "relu",
                "registered_name": "relu",
            },
        },
        "registered_name": "VectorizedMap",
    }
    op = OpLayer.from_keras_config(config)
    assert op.op_kwargs["function"] is lamina.activations.relu
    data = np.array([[-1.0, 2.0]], "float32")
    np.testing.assert_allclose(lamina.ops.convert_to_numpy(op(data)), [[0.0, 2.0]])
    again = json.loads(json.dumps(op.get_config()))
    assert (
        OpLayer.from_keras_config({**config, "config": again}).op_kwargs["function"]
        is lamina.activations.relu
    )


def test_op_config_lambda_argument_is_refused_in_safe_mode():
    config = {
        "module": "keras.src.ops.core",
        "class_name": "VectorizedMap",
        "config": {
            "name": "vmap",
            "function": lamina.saving.serialize_keras_object(lambda t: t + 1),
        },
    }
    config = json.loads(json.dumps(config))
    with pytest.raises(ValueError, match="lambda"):
        OpLayer.from_keras_config(config)
    with lamina.saving.SafeModeScope(False):
        op = OpLayer.from_keras_config(config)
    out = op(np.zeros((1, 2), "float32"))
    np.testing.assert_allclose(lamina.ops.convert_to_numpy(out), 1.0)
