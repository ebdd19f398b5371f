"""Tolerant comparisons, membership and value tests (`isclose`, `isin`, ...),
and the parts of complex numbers (`real`, `imag`, `angle`, `conj`)."""

import torch

from lamina.ops._utils import Tensor, to_tensor, to_tensors
from lamina.ops.operation import op


def _promoted(x1, x2):
    x1, x2 = to_tensors(x1, x2)
    dtype = torch.promote_types(x1.dtype, x2.dtype)
    return x1.to(dtype), x2.to(dtype)


def _close(x1, x2, rtol, atol, equal_nan) -> Tensor:
    x1, x2 = _promoted(x1, x2)
    if x1.is_floating_point() or x1.is_complex():
        return torch.isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan)
    # Integers: exact equality (Keras does the same).
    return x1 == x2


@op
def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan: bool = False) -> Tensor:
    """Whether `|x1 - x2| <= atol + rtol * |x2|` element-wise.

    NaNs compare equal only with `equal_nan=True`; integer operands are compared
    exactly.

    Example:
    >>> lamina.ops.isclose([1.0, 2.0], [1.0 + 1e-7, 2.1]).tolist()
    [True, False]
    """
    return _close(x1, x2, rtol, atol, equal_nan)


@op
def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan: bool = False) -> Tensor:
    """Whether `isclose` holds everywhere, as a 0-d bool tensor."""
    return torch.all(_close(x1, x2, rtol, atol, equal_nan))


@op
def isin(x1, x2, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each element of `x1` occurs anywhere in `x2` (`invert`: does not).

    The result has `x1`'s shape.
    """
    x1, x2 = _promoted(x1, x2)
    if x1.dtype == torch.bool:
        x1, x2 = x1.to(torch.int32), x2.to(torch.int32)
    return torch.isin(x1, x2, assume_unique=assume_unique, invert=invert)


@op
def isposinf(x) -> Tensor:
    """Whether each element is plus infinity."""
    return torch.isposinf(to_tensor(x))


@op
def isneginf(x) -> Tensor:
    """Whether each element is minus infinity."""
    return torch.isneginf(to_tensor(x))


@op
def isreal(x) -> Tensor:
    """Whether each element has a zero imaginary part (always true for reals)."""
    return torch.isreal(to_tensor(x))


# Complex numbers: real tensors are complex numbers with a zero imaginary part.


@op
def real(x) -> Tensor:
    """The real part of each element (`x` itself for real tensors)."""
    return torch.real(to_tensor(x))


@op
def imag(x) -> Tensor:
    """The imaginary part of each element (zeros for real tensors)."""
    x = to_tensor(x)
    if not x.is_complex():
        return torch.zeros_like(x)
    return torch.imag(x)


@op
def angle(x) -> Tensor:
    """Argument of each complex element, in radians (0 or pi for reals)."""
    x = to_tensor(x)
    if x.dtype == torch.float16 and x.device.type != "cpu":
        return torch.angle(x.float()).half()  # no float16 kernel on accelerators
    return torch.angle(x)


@op
def conj(x) -> Tensor:
    """Complex conjugate, element-wise (real tensors are returned as they are)."""
    return torch.conj(to_tensor(x)).resolve_conj()


@op
def conjugate(x) -> Tensor:
    """Alias of `conj`."""
    return torch.conj(to_tensor(x)).resolve_conj()
