"""lamina.regularizers: weight penalties added to the loss, and lookup by Keras name."""

from lamina.regularizers.regularizers import (
    L1,
    L1L2,
    L2,
    OrthogonalRegularizer,
    Regularizer,
)
from lamina.saving import serialization_lib

# Keras exports these lowercase aliases as the same classes.
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

ALL_OBJECTS_DICT = {
    "Regularizer": Regularizer,
    "L1": L1,
    "L2": L2,
    "L1L2": L1L2,
    "OrthogonalRegularizer": OrthogonalRegularizer,
    "regularizer": Regularizer,
    "l1": L1,
    "l2": L2,
    "l1l2": L1L2,
    # Keras's `get` knows only "l1l2"; "l1_l2" (its exported alias) is accepted too.
    "l1_l2": L1L2,
    "orthogonal_regularizer": OrthogonalRegularizer,
}


def serialize(regularizer) -> dict:
    """Keras 3 config dict of a regularizer.

    Example:
    >>> from lamina import regularizers
    >>> regularizers.serialize(regularizers.L2(0.5))["config"]
    {'l2': 0.5}
    """
    return serialization_lib.serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    """The regularizer that `serialize` described (an instance).

    Args:
        config: A config dict, or a name such as `"l2"`.
        custom_objects: Optional `{name: class_or_function}` for user regularizers.
    """
    return serialization_lib.deserialize_family_object(
        config, custom_objects, ALL_OBJECTS_DICT, "regularizer", instantiate=True
    )


def get(identifier):
    """The regularizer a `*_regularizer=` argument names.

    Args:
        identifier: `None`, a name (`"l1"`, `"l2"`, `"l1l2"` / `"l1_l2"`,
            `"orthogonal_regularizer"`, or a class name; created with default
            factors), a config dict, a class, or a callable `weight -> scalar`.

    Returns:
        A callable regularizer, or `None`.

    Raises:
        ValueError: For an unknown name (with close matches).
        TypeError: For anything else.

    Example:
    >>> from lamina import regularizers
    >>> regularizers.get("l2").l2
    0.01
    """
    return serialization_lib.get_family_object(
        identifier,
        "regularizer",
        ALL_OBJECTS_DICT,
        deserialize,
        "A regularizer must be a name such as 'l2', a config dict, a Regularizer "
        "or a callable",
    )


__all__ = [
    "L1",
    "L1L2",
    "L2",
    "OrthogonalRegularizer",
    "Regularizer",
    "deserialize",
    "get",
    "l1",
    "l1_l2",
    "l2",
    "orthogonal_regularizer",
    "serialize",
]
