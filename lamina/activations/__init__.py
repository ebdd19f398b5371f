"""lamina.activations: activation functions and their lookup by Keras name."""

import types

from lamina.activations.activations import (
    celu,
    elu,
    exponential,
    gelu,
    glu,
    hard_shrink,
    hard_sigmoid,
    hard_silu,
    hard_tanh,
    leaky_relu,
    linear,
    log_sigmoid,
    log_softmax,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_shrink,
    softmax,
    softplus,
    softsign,
    sparse_plus,
    sparse_sigmoid,
    sparsemax,
    squareplus,
    tanh,
    tanh_shrink,
    threshold,
)
from lamina.saving import object_registration, serialization_lib

# Keras exports these aliases as the same function objects.
swish = silu
hard_swish = hard_silu

ALL_OBJECTS = (
    celu,
    elu,
    exponential,
    gelu,
    glu,
    hard_shrink,
    hard_sigmoid,
    hard_silu,
    hard_tanh,
    leaky_relu,
    linear,
    log_sigmoid,
    log_softmax,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_shrink,
    softmax,
    softplus,
    softsign,
    sparse_plus,
    sparse_sigmoid,
    sparsemax,
    squareplus,
    tanh,
    tanh_shrink,
    threshold,
)
ALL_OBJECTS_DICT = {fn.__name__: fn for fn in ALL_OBJECTS}
ALL_OBJECTS_DICT["swish"] = silu
ALL_OBJECTS_DICT["hard_swish"] = hard_silu


def serialize(activation):
    """Keras 3 form of an activation: a built-in's name, else a config dict.

    Args:
        activation: A lamina activation, a registered function, or a callable
            object with `get_config()`.

    Returns:
        `"relu"` for built-ins (aliases give their canonical name, e.g.
        `swish` -> `"silu"`); for other functions `{"module", "class_name":
        "function", "config": "package>name", "registered_name"}`; for objects
        their serialized config.

    Example:
    >>> from lamina import activations
    >>> activations.serialize(activations.swish)
    'silu'
    """
    if any(activation is fn for fn in ALL_OBJECTS):
        return activation.__name__
    config = serialization_lib.serialize_keras_object(activation)
    if isinstance(activation, types.FunctionType) and isinstance(config, dict):
        config["config"] = object_registration.get_registered_name(activation)
    return config


def deserialize(config, custom_objects=None):
    """The activation that `serialize` described.

    Args:
        config: A name (`"relu"`) or a config dict.
        custom_objects: Optional `{name: function}` for user activations.
    """
    return serialization_lib.deserialize_family_object(
        config, custom_objects, ALL_OBJECTS_DICT, "activation"
    )


def get(identifier):
    """The activation function an `activation=` argument names.

    Args:
        identifier: `None` (gives `linear`), a Keras name such as `"relu"`,
            a config dict, or a callable (returned as is).

    Returns:
        A callable mapping a tensor to a tensor.

    Raises:
        ValueError: For an unknown name (with close matches).
        TypeError: For anything that is not a name, dict or callable.

    Example:
    >>> from lamina import activations
    >>> activations.get("relu") is activations.relu
    True
    """
    return serialization_lib.get_family_object(
        identifier,
        "activation",
        ALL_OBJECTS_DICT,
        deserialize,
        "An activation must be a name such as 'relu', a config dict, a callable "
        "or None",
        instantiate=False,
        default=linear,
    )


__all__ = [
    "celu",
    "deserialize",
    "elu",
    "exponential",
    "gelu",
    "get",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
    "threshold",
]
