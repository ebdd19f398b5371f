"""lamina.dtype_policies: which dtype a layer computes in and stores weights in."""

from lamina.dtype_policies._dtype_policy import (
    DTypePolicy,
    FloatDTypePolicy,
    dtype_policy,
    get,
    set_dtype_policy,
)
from lamina.dtype_policies.dtype_policy_map import DTypePolicyMap
from lamina.dtype_policies.quantized_dtype_policy import (
    # helper-85
    AWQDTypePolicy,
    GPTQDTypePolicy,
    Int4DTypePolicy,
    QuantizedDTypePolicy,
    QuantizedFloat8DTypePolicy,
)

ALL_OBJECTS = {
    DTypePolicy,
    FloatDTypePolicy,
    DTypePolicyMap,
    QuantizedDTypePolicy,
    QuantizedFloat8DTypePolicy,
    Int4DTypePolicy,
    GPTQDTypePolicy,  # helper-85
    AWQDTypePolicy,  # helper-85
}
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}


def serialize(dtype_policy) -> dict:
    """The Keras config dict of a dtype policy (`{"module", "class_name", ...}`)."""
    from lamina.saving.serialization_lib import serialize_keras_object

    return serialize_keras_object(dtype_policy)


def deserialize(config, custom_objects=None) -> DTypePolicy:
    """The dtype policy a config (from `serialize`, or a Keras file) describes.

    Args:
        config: A config dict, or a class name from this module.
        custom_objects: `{name: class}` for user policy classes.
    """
    from lamina.saving.serialization_lib import deserialize_keras_object

    return deserialize_keras_object(
        config,
        module_objects=ALL_OBJECTS_DICT,
        custom_objects=custom_objects,
        kind="dtype policy",
    )


__all__ = [
    "AWQDTypePolicy",  # helper-85
    "DTypePolicy",
    "DTypePolicyMap",
    "FloatDTypePolicy",
    "GPTQDTypePolicy",  # helper-85
    "Int4DTypePolicy",
    "QuantizedDTypePolicy",
    "QuantizedFloat8DTypePolicy",
    "deserialize",
    "dtype_policy",
    "get",
    "serialize",
    "set_dtype_policy",
]


def _config_with_policy(config):
    """`config` with a serialized policy under "dtype" made a policy object, as
    Keras's `from_config` hands it to a layer's constructor: a quantized policy
    or a `DTypePolicyMap` as the object, a plain policy by its name (a string).
    Other configs come back unchanged (the same dict)."""
    dtype = config.get("dtype") if isinstance(config, dict) else None
    if not isinstance(dtype, dict) or "class_name" not in dtype:
        return config
    policy = deserialize(dtype)
    if not isinstance(policy, DTypePolicyMap) and policy.quantization_mode is None:
        policy = policy.name
    return {**config, "dtype": policy}
