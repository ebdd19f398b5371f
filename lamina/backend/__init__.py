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
from lamina.backend.dtypes import is_float_dtype, standardize_dtype, to_torch_dtype
from lamina.backend.naming import clear_session
from lamina.backend.tensors import convert_to_numpy, convert_to_tensor

__all__ = [
    "backend",
    "clear_session",
    "convert_to_numpy",
    "convert_to_tensor",
    "epsilon",
    "floatx",
    "get_device",
    "image_data_format",
    "is_float_dtype",
    "set_device",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
    "standardize_dtype",
    "to_torch_dtype",
]
