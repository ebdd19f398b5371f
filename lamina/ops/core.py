"""Core ops: dtype and shape queries, casts and conversions (`keras.ops.core`)."""

import numpy as np

from lamina import backend
from lamina.ops._utils import Tensor, to_tensor
from lamina.ops.operation import op


@op
def cast(x, dtype) -> Tensor:
    """`x` as a tensor of `dtype` (a Keras dtype name or a torch dtype).

    Example:
    >>> lamina.ops.cast([1.7, -1.7], "int32").tolist()
    [1, -1]
    """
    return to_tensor(x).to(backend.to_torch_dtype(dtype))


@op
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None) -> Tensor:
    """`x` as a torch tensor on lamina's device, optionally cast to `dtype`.

    Python ints become int32 and Python floats floatx, as in Keras; tensors keep
    their dtype. NumPy float64 data becomes floatx (lamina's input policy, see
    `lamina.backend.convert_to_tensor`).
    `sparse` and `ragged` tensors do not exist in lamina; asking for them raises.
    """
    if sparse or ragged:
        raise ValueError(
            "ops.convert_to_tensor: lamina has no sparse or ragged tensors; got "
            f"sparse={sparse!r}, ragged={ragged!r}. Pass dense data and leave "
            "both unset."
        )
    if isinstance(x, Tensor):
        # Keras keeps a tensor's dtype (float64 included) and moves it to the device.
        torch_dtype = None if dtype is None else backend.to_torch_dtype(dtype)
        return x.to(device=backend.get_device(), dtype=torch_dtype)
    x = to_tensor(x)
    return x if dtype is None else x.to(backend.to_torch_dtype(dtype))


@op
def convert_to_numpy(x) -> np.ndarray:
    """A NumPy copy of `x` on the host."""
    return backend.convert_to_numpy(x)


@op
def is_tensor(x) -> bool:
    """Whether `x` is a torch tensor (a `torch.nn.Parameter` counts)."""
    return isinstance(x, Tensor)


@op
def shape(x) -> tuple:
    """The static shape of `x` as a tuple of ints.

    Example:
    >>> lamina.ops.shape(lamina.ops.zeros((2, 3)))
    (2, 3)
    """
    if isinstance(x, Tensor):
        return tuple(x.shape)
    return tuple(np.shape(x))


@op
def dtype(x) -> str:
    """The Keras name of `x`'s dtype, e.g. `"float32"`."""
    if isinstance(x, Tensor):
        return backend.standardize_dtype(x.dtype)
    return backend.standardize_dtype(to_tensor(x).dtype)


@op
def stop_gradient(variable) -> Tensor:
    """`variable` cut out of the autograd graph (same values, no gradient)."""
    return to_tensor(variable).detach()


__all__ = [
    "cast",
    "convert_to_numpy",
    "convert_to_tensor",
    "dtype",
    "is_tensor",
    "shape",
    "stop_gradient",
]
