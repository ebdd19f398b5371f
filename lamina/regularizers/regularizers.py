"""Weight penalties (`keras.regularizers`): L1, L2, L1L2 and OrthogonalRegularizer.

Each maps a weight tensor to a scalar tensor on the weight's device that the
trainer adds to the loss. Formulas are Keras 3's: no factor 1/2 on L2.
"""

import math
import numbers

import numpy as np
import torch

from lamina.backend import epsilon


def _penalty_factor(value, name: str, who: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or math.isinf(value)
        or math.isnan(value)
        or value < 0
    ):
        raise ValueError(
            f"{who} expects `{name}` to be a non-negative finite float; got "
            f"{name}={value!r}. Write, for example, {who}({name}=0.01)."
        )
    return float(value)


def _float32(value: float) -> float:
    # Keras keeps these factors in a float32 tensor, so its configs (and its
    # arithmetic) see the float32-rounded value, e.g. 0.009999999776482582.
    return float(np.float32(value))


class Regularizer:
    """Base class of weight penalties.

    A regularizer is called on a weight and returns a scalar tensor added to
    the training loss. Any function `weight -> scalar tensor` works as a
    regularizer too; subclass this to make one that can be saved
    (`get_config` returning the constructor arguments).

    Example:
    >>> import torch
    >>> from lamina import regularizers
    >>> class Sum(regularizers.Regularizer):
    ...     def __call__(self, x):
    ...         return x.sum()
    ...     def get_config(self):
    ...         return {}
    >>> float(Sum()(torch.ones(2, 2)))
    4.0
    """

    def __call__(self, x) -> torch.Tensor:
        """The penalty for weight `x`: 0 for the base class."""
        return torch.zeros((), dtype=x.dtype, device=x.device)

    def get_config(self) -> dict:
        """Constructor arguments by name; subclasses with arguments implement it."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement get_config(); add one "
            "returning its constructor arguments so it can be saved."
        )

    @classmethod
    def from_config(cls, config: dict) -> "Regularizer":
        """Rebuild a regularizer from `get_config()`'s output."""
        return cls(**config)


class L1L2(Regularizer):
    """Penalty `l1 * sum(abs(x)) + l2 * sum(square(x))`.

    Args:
        l1: L1 factor, non-negative. Defaults to `0.0`.
        l2: L2 factor, non-negative. Defaults to `0.0`.

    Example:
    >>> import torch
    >>> from lamina import regularizers
    >>> float(regularizers.L1L2(l1=0.5, l2=0.25)(torch.tensor([1.0, -2.0])))
    2.75
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _penalty_factor(0.0 if l1 is None else l1, "l1", "L1L2")
        self.l2 = _penalty_factor(0.0 if l2 is None else l2, "l2", "L1L2")

    def __call__(self, x) -> torch.Tensor:
        penalty = torch.zeros((), dtype=x.dtype, device=x.device)
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """Penalty `l1 * sum(abs(x))`.

    Args:
        l1: Factor, non-negative. Defaults to `0.01`.
    """

    def __init__(self, l1=0.01):
        self.l1 = _float32(_penalty_factor(0.01 if l1 is None else l1, "l1", "L1"))

    def __call__(self, x) -> torch.Tensor:
        return self.l1 * x.abs().sum()

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """Penalty `l2 * sum(square(x))` (Keras 3 has no factor 1/2).

    Args:
        l2: Factor, non-negative. Defaults to `0.01`.
    """

    def __init__(self, l2=0.01):
        self.l2 = _penalty_factor(0.01 if l2 is None else l2, "l2", "L2")

    def __call__(self, x) -> torch.Tensor:
        return self.l2 * x.square().sum()

    def get_config(self) -> dict:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2D weight toward mutual orthogonality.

    The rows (`mode="rows"`) or columns are L2-normalized; the penalty is
    `factor * 0.5 * sum(|off-diagonal dot products|) / (n * (n - 1) / 2)`
    for `n` rows (columns), i.e. `factor / 2` times the mean absolute cosine
    over distinct pairs, each pair counted twice.

    Args:
        factor: Non-negative strength. Defaults to `0.01`.
        mode: `"rows"` or `"columns"`. Defaults to `"rows"`.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _float32(
            _penalty_factor(factor, "factor", "OrthogonalRegularizer")
        )
        if mode not in ("rows", "columns"):
            raise ValueError(
                "OrthogonalRegularizer expects `mode` to be 'rows' or 'columns'; "
                f"got mode={mode!r}."
            )
        self.mode = mode

    def __call__(self, inputs) -> torch.Tensor:
        x = inputs  # Keras names this argument `inputs` (the others: `x`)
        if x.ndim != 2:
            raise ValueError(
                "OrthogonalRegularizer applies to 2D weights (matrices); got a "
                f"weight of shape {tuple(x.shape)}."
            )
        axis = 1 if self.mode == "rows" else 0
        # Keras normalizes as x * min(rsqrt(sum(x**2)), 1/epsilon).
        inv_norm = torch.rsqrt(x.square().sum(dim=axis, keepdim=True))
        unit = x * torch.clamp(inv_norm, max=1.0 / epsilon())
        product = unit @ unit.T if self.mode == "rows" else unit.T @ unit
        size = product.shape[0]
        off_diagonal = product * (1.0 - torch.eye(size, dtype=x.dtype, device=x.device))
        num_pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * off_diagonal.abs().sum() / num_pairs

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}
