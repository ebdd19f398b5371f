"""Turning box data into tensors the way Keras's torch backend does."""

import numpy as np
import torch

from lamina.backend import config
from lamina.backend.device import get_device
from lamina.backend.dtypes import to_torch_dtype


def as_tensor(x, dtype=None) -> torch.Tensor:
    """`x` as a tensor on lamina's device. NumPy data keeps its dtype (float64
    included), as Keras's torch backend keeps it; Python floats are floatx,
    Python ints int32."""
    torch_dtype = None if dtype is None else to_torch_dtype(dtype)
    if isinstance(x, torch.Tensor):
        return x.to(device=get_device(), dtype=torch_dtype)
    if isinstance(x, bool):
        torch_dtype = torch_dtype or torch.bool
    elif isinstance(x, int):
        torch_dtype = torch_dtype or torch.int32
    elif isinstance(x, float):
        torch_dtype = torch_dtype or to_torch_dtype(config.floatx())
    array = np.asarray(x)
    if array.dtype == object:
        raise TypeError(
            "Bounding boxes must be numbers (a tensor, a NumPy array or nested "
            f"lists of equal length); got a value of type {type(x).__name__}."
        )
    tensor = torch.as_tensor(np.ascontiguousarray(array))
    return tensor.to(device=get_device(), dtype=torch_dtype)


def split4(boxes):
    """The four coordinates of `boxes (..., 4)`, each `(..., 1)`."""
    return torch.split(boxes, 1, dim=-1)
