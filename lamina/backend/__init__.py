"""lamina.backend: the engine underneath is PyTorch; this says how lamina uses it."""

from lamina.backend import naming as _naming
from lamina.backend.config import (
    backend,
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from lamina.backend.device import get_device, set_device
from lamina.backend.dtypes import (
    is_float_dtype,
    result_type,
    standardize_dtype,
    to_torch_dtype,
)
from lamina.backend.keras_tensor import is_keras_tensor
from lamina.backend.naming import clear_session
from lamina.backend.tensors import convert_to_numpy, convert_to_tensor


def is_int_dtype(dtype) -> bool:
    """True for the signed and unsigned integer dtypes (any spelling); False
    for `bool`, floats and complex."""
    return standardize_dtype(dtype).startswith(("int", "uint"))


def get_uid(prefix: str = "") -> int:
    """Count calls per `prefix` in this session: 1 the first time, then 2, 3, ...

    Layers take their default names from the same counters (the first `Dense`
    is `dense`, the next `dense_1`), as in Keras, and `clear_session()` resets
    them.

    Example:
    >>> lamina.backend.get_uid("block"), lamina.backend.get_uid("block")
    (1, 2)
    """
    # The layer-name counters of naming.uniquify, so both count the same calls.
    count = _naming._NAME_COUNTS.get(prefix, 0) + 1
    _naming._NAME_COUNTS[prefix] = count
    return count


__all__ = [
    "backend",
    "clear_session",
    "convert_to_numpy",
    "convert_to_tensor",
    "epsilon",
    "floatx",
    "get_device",
    "get_uid",
    "image_data_format",
    "is_float_dtype",
    "is_int_dtype",
    "is_keras_tensor",
    "result_type",
    "set_device",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
    "standardize_dtype",
    "to_torch_dtype",
]
