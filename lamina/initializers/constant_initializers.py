"""Deterministic initializers: Zeros, Ones, Constant and Identity."""

import numpy as np
import torch

from lamina.backend import standardize_dtype, to_torch_dtype
from lamina.initializers.initializer import Initializer, standardize_shape
from lamina.saving import serialization_lib


def _dtype(dtype) -> torch.dtype:
    return to_torch_dtype(standardize_dtype(dtype))


class Zeros(Initializer):
    """Fills the weight with 0.

    Example:
    >>> from lamina import initializers
    >>> initializers.Zeros()((2,)).tolist()
    [0.0, 0.0]
    """

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        return torch.zeros(standardize_shape(shape, "Zeros"), dtype=_dtype(dtype))


class Ones(Initializer):
    """Fills the weight with 1.

    Example:
    >>> from lamina import initializers
    >>> initializers.Ones()((2,)).tolist()
    [1.0, 1.0]
    """

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        return torch.ones(standardize_shape(shape, "Ones"), dtype=_dtype(dtype))


class Constant(Initializer):
    """Fills the weight with `value`.

    Args:
        value: A Python scalar (or an array broadcastable to the weight's
            shape). Defaults to `0.0`.

    Example:
    >>> from lamina import initializers
    >>> initializers.Constant(2.5)((2,)).tolist()
    [2.5, 2.5]
    """

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        shape = standardize_shape(shape, "Constant")
        torch_dtype = _dtype(dtype)
        if isinstance(self.value, torch.Tensor):
            value = self.value.detach().to("cpu", torch_dtype)
        else:
            value = torch.as_tensor(np.asarray(self.value), dtype=torch_dtype)
        try:
            return torch.broadcast_to(value, shape).clone()
        except RuntimeError:
            raise ValueError(
                f"Constant cannot fill a weight of shape {shape} with a value of "
                f"shape {tuple(value.shape)}. Pass a scalar, e.g. Constant(0.1)."
            ) from None

    def get_config(self) -> dict:
        return {"value": serialization_lib.serialize_keras_object(self.value)}

    @classmethod
    def from_config(cls, config: dict) -> "Constant":
        return cls(serialization_lib.deserialize_keras_object(config["value"]))


class Identity(Initializer):
    """Fills a 2D weight with `gain` times the identity matrix.

    Non-square shapes get ones on the main diagonal and zeros elsewhere.

    Args:
        gain: Factor applied to the identity matrix. Defaults to `1.0`.

    Example:
    >>> from lamina import initializers
    >>> initializers.Identity(gain=2.0)((2, 2)).tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        shape = standardize_shape(shape, "Identity")
        if len(shape) != 2:
            raise ValueError(
                "Identity fills only 2D weights (a matrix); got shape "
                f"{shape} of rank {len(shape)}. Use Orthogonal for other ranks."
            )
        return self.gain * torch.eye(*shape, dtype=_dtype(dtype))

    def get_config(self) -> dict:
        return {"gain": self.gain}
