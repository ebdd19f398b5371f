"""lamina.optimizers: Keras 3 optimizers that update all weights with multi-tensor
kernels, and their learning-rate schedules."""

from lamina.optimizers import legacy, schedules
from lamina.optimizers.adadelta import Adadelta
from lamina.optimizers.adafactor import Adafactor
from lamina.optimizers.adagrad import Adagrad
from lamina.optimizers.adam import Adam
from lamina.optimizers.adamax import Adamax
from lamina.optimizers.adamw import AdamW
from lamina.optimizers.ftrl import Ftrl
from lamina.optimizers.lamb import Lamb
from lamina.optimizers.lion import Lion
from lamina.optimizers.loss_scale_optimizer import LossScaleOptimizer
from lamina.optimizers.multi_optimizer import MultiOptimizer, OptimizerMap
from lamina.optimizers.muon import Muon
from lamina.optimizers.nadam import Nadam
from lamina.optimizers.optimizer import Optimizer
from lamina.optimizers.rmsprop import RMSprop
from lamina.optimizers.schedule_free_adamw import ScheduleFreeAdamW
from lamina.optimizers.sgd import SGD
from lamina.saving.serialization_lib import (
    UninterpretableIdentifierError,
    deserialize_family_object,
    deserialize_identifier,
    raise_unknown,
    serialize_keras_object,
)

# Keras looks names up case-insensitively by lowercased class name:
# "adam", "AdamW", "rmsprop", "SGD" ... Keras 3.15 leaves Lamb out of its table
# (`keras.optimizers.get("lamb")` fails); lamina resolves it like the others.
ALL_OBJECTS_DICT = {
    cls.__name__.lower(): cls
    for cls in (
        SGD,
        RMSprop,
        Adam,
        AdamW,
        Adagrad,
        Adadelta,
        Adamax,
        Nadam,
        Lion,
        Ftrl,
        Lamb,
        Adafactor,
        Muon,
        ScheduleFreeAdamW,
        LossScaleOptimizer,
        MultiOptimizer,
        OptimizerMap,
    )
}
# Names that need constructor arguments: `get` explains instead of failing.
_WRAPPERS = {
    LossScaleOptimizer: "Adam()",
    MultiOptimizer: "OptimizerMap(Adam())",
    OptimizerMap: "Adam(), {'encoder/.*': SGD()}",
}
# Configs written by Keras's torch backend name a private module; resolve those
# by class name too.
_BY_ANY_NAME = {
    **ALL_OBJECTS_DICT,
    **{cls.__name__: cls for cls in ALL_OBJECTS_DICT.values()},
}
# Keras 3 optimizers lamina does not implement (yet): named in the error message.
# None as of Keras 3.15.1.
_NOT_IMPLEMENTED = ()


def serialize(optimizer) -> dict:
    """The Keras 3 config dict of an optimizer (`module`, `class_name`, `config`)."""
    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None) -> Optimizer:
    """Rebuild an optimizer from `serialize`'s output (or a Keras 3 config)."""
    if isinstance(config, dict) and isinstance(config.get("class_name"), str):
        cls = ALL_OBJECTS_DICT.get(config["class_name"].lower())
        if cls is not None:
            config = {**config, "class_name": cls.__name__}
        else:
            _check_implemented(config["class_name"])
    return deserialize_family_object(config, custom_objects, _BY_ANY_NAME, "optimizer")


def get(identifier) -> Optimizer | None:
    """An optimizer from a name (`"adam"`), a config dict, or an instance.

    Example:
    >>> get("rmsprop").get_config()["rho"]
    0.9
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize_identifier(deserialize, identifier, "optimizer")
    if isinstance(identifier, str):
        cls = ALL_OBJECTS_DICT.get(identifier.lower())
        if cls is None:
            _check_implemented(identifier)
            raise_unknown("optimizer", identifier, ALL_OBJECTS_DICT)
        if cls in _WRAPPERS:
            raise ValueError(
                f"The optimizer {identifier!r} wraps other optimizers, so a name "
                f"alone cannot create it; pass an instance, e.g. "
                f"{cls.__name__}({_WRAPPERS[cls]})."
            )
        return cls()
    hint = ""
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        hint = f" Pass an instance, e.g. {identifier.__name__}(), not the class."
    raise UninterpretableIdentifierError(
        "Could not interpret optimizer identifier: expected an optimizer name "
        "such as 'adam', a config dict or an Optimizer instance; got "
        f"{identifier!r} of type {type(identifier).__name__}.{hint}"
    )


def _check_implemented(name: str) -> None:
    if name.lower() in _NOT_IMPLEMENTED:
        raise ValueError(
            f"The Keras optimizer {name!r} is not available in lamina. Available: "
            f"{', '.join(sorted(ALL_OBJECTS_DICT))}."
        )


__all__ = [
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Ftrl",
    "Lamb",
    "Lion",
    "LossScaleOptimizer",
    "MultiOptimizer",
    "Muon",
    "Nadam",
    "Optimizer",
    "OptimizerMap",
    "RMSprop",
    "ScheduleFreeAdamW",
    "deserialize",
    "get",
    "legacy",
    "schedules",
    "serialize",
]
