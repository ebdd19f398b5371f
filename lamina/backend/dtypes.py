"""Dtype names as Keras spells them, mapped to and from torch dtypes."""

import numpy as np
import torch

from lamina.backend import config

_BY_NAME = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "uint8": torch.uint8,
    "uint16": torch.uint16,
    "uint32": torch.uint32,
    "uint64": torch.uint64,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
}
_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int64"}
_BY_TORCH = {v: k for k, v in _BY_NAME.items()}


def standardize_dtype(dtype) -> str:
    """Keras name of `dtype` (a string, torch dtype, NumPy dtype or Python type)."""
    if dtype is None:
        return config.floatx()
    if isinstance(dtype, torch.dtype):
        return _BY_TORCH[dtype]
    if dtype is float:
        return "float32"
    if dtype is int:
        return "int64"
    if dtype is bool:
        return "bool"
    if hasattr(dtype, "name") and not isinstance(dtype, str):
        dtype = dtype.name  # DTypePolicy or NumPy dtype
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        dtype = np.dtype(dtype).name
    name = _ALIASES.get(str(dtype), str(dtype))
    if name.startswith("torch."):
        name = name[len("torch.") :]
    if name not in _BY_NAME:
        raise ValueError(
            f"Unknown dtype {dtype!r}. Expected one of {sorted(_BY_NAME)}."
        )
    return name


def to_torch_dtype(dtype) -> torch.dtype:
    """torch dtype for any dtype spelling `standardize_dtype` accepts."""
    if isinstance(dtype, torch.dtype):
        return dtype
    return _BY_NAME[standardize_dtype(dtype)]


def is_float_dtype(dtype) -> bool:
    """True for float16, bfloat16, float32 and float64 (any spelling)."""
    return standardize_dtype(dtype) in ("float16", "bfloat16", "float32", "float64")
