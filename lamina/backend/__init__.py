"""lamina.backend: the engine underneath is PyTorch; this says how lamina uses it."""

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
from lamina.backend.naming import clear_session, get_uid
from lamina.backend.tensors import convert_to_numpy, convert_to_tensor


def is_int_dtype(dtype) -> bool:
    """True for the signed and unsigned integer dtypes (any spelling); False
    for `bool`, floats and complex."""
    return standardize_dtype(dtype).startswith(("int", "uint"))


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
