"""lamina.quantizers: quantizers, quantization configs and quantization maths,
as `keras.quantizers`."""

import inspect

from lamina.backend.naming import to_snake_case
from lamina.quantizers.awq_config import AWQConfig  # helper-85
from lamina.quantizers.gptq_config import GPTQConfig  # helper-85
from lamina.quantizers.quantization_config import (
    Float8QuantizationConfig,
    Int4QuantizationConfig,
    Int8QuantizationConfig,
    QuantizationConfig,
)
from lamina.quantizers.quantizers import (
    AbsMaxQuantizer,
    Quantizer,
    abs_max_quantize,
    abs_max_quantize_grouped_with_zero_point,
    compute_float8_amax_history,
    compute_float8_scale,
    fake_quant_with_min_max_vars,
    pack_int4,
    quantize_and_dequantize,
    unpack_int4,
)
from lamina.saving import serialization_lib as _serialization_lib

ALL_OBJECTS = {
    Quantizer,
    AbsMaxQuantizer,
    QuantizationConfig,
    Int8QuantizationConfig,
    Int4QuantizationConfig,
    Float8QuantizationConfig,
    AWQConfig,
}
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({to_snake_case(cls.__name__): cls for cls in ALL_OBJECTS})


def serialize(initializer) -> dict:
    """The Keras config dict of a quantizer or quantization config.

    Args:
        initializer: The quantizer (Keras names this argument `initializer`).

    Returns:
        Its config dict.
    """
    return _serialization_lib.serialize_keras_object(initializer)


def deserialize(config, custom_objects=None):
    """The quantizer (or quantization config) a config dict describes.

    Args:
        config: A dict from `serialize`, or a class name from this module.
        custom_objects: `{name: class}` for user quantizer classes.
    """
    return _serialization_lib.deserialize_keras_object(
        config,
        module_objects=ALL_OBJECTS_DICT,
        custom_objects=custom_objects,
        kind="quantizer",
    )


def get(identifier, **kwargs):
    """A quantizer from `None`, a config dict, a class name or an object.

    Args:
        identifier: `None` (returns `None`), a dict, a name such as
            `"AbsMaxQuantizer"` or `"abs_max_quantizer"`, or a quantizer.
        **kwargs: Constructor arguments when `identifier` names a class.

    Returns:
        A quantizer instance, or `None`.

    Raises:
        ValueError: if the identifier names nothing known.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = ALL_OBJECTS_DICT.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        # Keras passes the kwargs dict positionally (it lands in `axis`); lamina
        # passes them as keyword arguments.
        return obj(**kwargs) if inspect.isclass(obj) else obj
    raise ValueError(
        f"Could not interpret quantizer identifier {identifier!r}; expected None, "
        f"a config dict, a quantizer or one of {sorted(ALL_OBJECTS_DICT)}."
    )


__all__ = [
    "AWQConfig",
    "AbsMaxQuantizer",
    "Float8QuantizationConfig",
    "GPTQConfig",
    "Int4QuantizationConfig",
    "Int8QuantizationConfig",
    "QuantizationConfig",
    "Quantizer",
    "abs_max_quantize",
    "abs_max_quantize_grouped_with_zero_point",
    "compute_float8_amax_history",
    "compute_float8_scale",
    "deserialize",
    "fake_quant_with_min_max_vars",
    "get",
    "pack_int4",
    "quantize_and_dequantize",
    "serialize",
    "unpack_int4",
]
