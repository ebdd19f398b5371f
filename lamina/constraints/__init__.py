"""lamina.constraints: projections applied to weights after updates, by Keras name."""

from lamina.constraints.constraints import (
    Constraint,
    MaxNorm,
    MinMaxNorm,
    NonNeg,
    UnitNorm,
)
from lamina.saving import serialization_lib

# Keras exports these lowercase aliases as the same classes.
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

ALL_OBJECTS_DICT = {
    "Constraint": Constraint,
    "MaxNorm": MaxNorm,
    "MinMaxNorm": MinMaxNorm,
    "NonNeg": NonNeg,
    "UnitNorm": UnitNorm,
    "constraint": Constraint,
    "max_norm": MaxNorm,
    "min_max_norm": MinMaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
}


def serialize(constraint) -> dict:
    """Keras 3 config dict of a constraint.

    Example:
    >>> from lamina import constraints
    >>> constraints.serialize(constraints.MaxNorm(3))["config"]
    {'max_value': 3, 'axis': 0}
    """
    return serialization_lib.serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    """The constraint that `serialize` described (an instance).

    Args:
        config: A config dict, or a name such as `"non_neg"`.
        custom_objects: Optional `{name: class_or_function}` for user constraints.
    """
    return serialization_lib.deserialize_family_object(
        config, custom_objects, ALL_OBJECTS_DICT, "constraint", instantiate=True
    )


def get(identifier):
    """The constraint a `*_constraint=` argument names.

    Args:
        identifier: `None`, a name (`"max_norm"`, `"non_neg"`, `"unit_norm"`,
            `"min_max_norm"` or a class name; created with defaults), a config
            dict, a class, or a callable `weight -> weight`.

    Returns:
        A callable constraint, or `None`.

    Raises:
        ValueError: For an unknown name (with close matches).
        TypeError: For anything else.

    Example:
    >>> from lamina import constraints
    >>> type(constraints.get("non_neg")).__name__
    'NonNeg'
    """
    return serialization_lib.get_family_object(
        identifier,
        "constraint",
        ALL_OBJECTS_DICT,
        deserialize,
        "A constraint must be a name such as 'max_norm', a config dict, a "
        "Constraint or a callable",
    )


__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]
