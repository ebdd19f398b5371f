"""Weight constraints (`keras.constraints`): projections applied after each update.

Norms are taken along `axis` (an int or a list of ints) and kept as size-1
axes for broadcasting; `epsilon()` is added to the norm in the denominator,
as Keras does, so zero weights stay zero.
"""

import torch

from lamina.backend import convert_to_tensor, epsilon


def _tensor(w) -> torch.Tensor:
    return w if isinstance(w, torch.Tensor) else convert_to_tensor(w)


def _dims(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _norms(w: torch.Tensor, axis) -> torch.Tensor:
    return torch.sqrt(w.square().sum(dim=_dims(axis), keepdim=True))


class Constraint:
    """Base class of weight constraints.

    A constraint is called on a weight after each optimizer step and returns
    its projected value (the base class returns it unchanged). Subclass it,
    implement `__call__(w)`, and `get_config()` if it takes arguments.

    Example:
    >>> import torch
    >>> from lamina import constraints
    >>> class Clip(constraints.Constraint):
    ...     def __call__(self, w):
    ...         return w.clamp(-1.0, 1.0)
    >>> Clip()(torch.tensor([-3.0, 0.5])).tolist()
    [-1.0, 0.5]
    """

    def __call__(self, w) -> torch.Tensor:
        """The projected weight: `w` itself for the base class."""
        return w

    def get_config(self) -> dict:
        """Constructor arguments by name. Defaults to `{}`."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Constraint":
        """Rebuild a constraint from `get_config()`'s output."""
        return cls(**config)


class MaxNorm(Constraint):
    """Rescales weights whose norm along `axis` exceeds `max_value`.

    `w * clip(norm, 0, max_value) / (epsilon + norm)`.

    Args:
        max_value: Largest allowed norm. Defaults to `2`.
        axis: Axis or axes the norm runs over. Defaults to `0`: for a Dense
            kernel `(input_dim, units)` each unit's incoming weights; use
            `[0, 1, 2]` for a Conv2D kernel `(h, w, in, out)`.
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w) -> torch.Tensor:
        w = _tensor(w)
        norms = _norms(w, self.axis)
        desired = torch.clamp(norms, 0, self.max_value)
        return w * (desired / (epsilon() + norms))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero: `max(w, 0)`."""

    def __call__(self, w) -> torch.Tensor:
        return torch.clamp(_tensor(w), min=0)


class UnitNorm(Constraint):
    """Rescales weights to norm 1 along `axis`: `w / (epsilon + norm)`.

    Args:
        axis: Axis or axes the norm runs over. Defaults to `0`.
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w) -> torch.Tensor:
        w = _tensor(w)
        return w / (epsilon() + _norms(w, self.axis))

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the norm along `axis` into `[min_value, max_value]`, at `rate`.

    The new norm is `rate * clip(norm, min_value, max_value) + (1 - rate) *
    norm`; `rate=1.0` enforces the bounds at once, smaller rates approach them
    gradually.

    Args:
        min_value: Smallest allowed norm. Defaults to `0.0`.
        max_value: Largest allowed norm. Defaults to `1.0`.
        rate: How far to move toward the bounds per call. Defaults to `1.0`.
        axis: Axis or axes the norm runs over. Defaults to `0`.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w) -> torch.Tensor:
        w = _tensor(w)
        norms = _norms(w, self.axis)
        desired = (
            self.rate * torch.clamp(norms, self.min_value, self.max_value)
            + (1 - self.rate) * norms
        )
        return w * (desired / (epsilon() + norms))

    def get_config(self) -> dict:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }
