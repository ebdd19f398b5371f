"""lamina.optimizers.schedules: learning rates that change with the step."""

from lamina.optimizers.schedules.learning_rate_schedule import (
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    PolynomialDecay,
)
from lamina.saving.serialization_lib import (
    deserialize_family_object,
    serialize_keras_object,
)

ALL_OBJECTS_DICT = {
    cls.__name__: cls
    for cls in (
        LearningRateSchedule,
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def serialize(learning_rate_schedule) -> dict:
    """The Keras 3 config dict of a schedule (`module`, `class_name`, `config`)."""
    return serialize_keras_object(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """Rebuild a schedule from `serialize`'s output (or a Keras 3 config)."""
    return deserialize_family_object(
        config, custom_objects, ALL_OBJECTS_DICT, "learning rate schedule"
    )


__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]
