"""Bitwise ops on integer and bool tensors: and, or, xor, not, shifts.

Operands are promoted as in the other binary ops (`int8_tensor & 3` stays
int8); floating inputs are rejected with a `TypeError`, as bits of floats are
not what these ops mean.
"""

import torch

from lamina.ops._utils import Tensor, operands, to_tensor
from lamina.ops.operation import op


def _check_integer(name, x) -> None:
    if isinstance(x, Tensor) and (x.is_floating_point() or x.is_complex()):
        raise TypeError(
            f"ops.{name} expects integer or bool tensors; got dtype {x.dtype}. "
            "Cast first, e.g. ops.cast(x, 'int32')."
        )
    if isinstance(x, float):
        raise TypeError(f"ops.{name} expects integer operands; got the float {x!r}.")


def _binary(name, fn, x, y) -> Tensor:
    x, y = operands(x, y)
    _check_integer(name, x)
    _check_integer(name, y)
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x, dtype=torch.result_type(x, y), device=y.device)
    return fn(x, y)


@op
def bitwise_and(x, y) -> Tensor:
    """`x & y` bit by bit (logical and for bools)."""
    return _binary("bitwise_and", torch.bitwise_and, x, y)


@op
def bitwise_or(x, y) -> Tensor:
    """`x | y` bit by bit (logical or for bools)."""
    return _binary("bitwise_or", torch.bitwise_or, x, y)


@op
def bitwise_xor(x, y) -> Tensor:
    """`x ^ y` bit by bit (logical xor for bools)."""
    return _binary("bitwise_xor", torch.bitwise_xor, x, y)


@op
def bitwise_invert(x) -> Tensor:
    """`~x`: every bit flipped (logical not for bools)."""
    x = to_tensor(x)
    _check_integer("bitwise_invert", x)
    return torch.bitwise_not(x)


@op
def bitwise_not(x) -> Tensor:
    """Alias of `bitwise_invert`."""
    x = to_tensor(x)
    _check_integer("bitwise_not", x)
    return torch.bitwise_not(x)


@op
def bitwise_left_shift(x, y) -> Tensor:
    """`x << y`: bits moved `y` places towards the high end."""
    return _binary("bitwise_left_shift", torch.bitwise_left_shift, x, y)


@op
def left_shift(x, y) -> Tensor:
    """Alias of `bitwise_left_shift`."""
    return _binary("left_shift", torch.bitwise_left_shift, x, y)


@op
def bitwise_right_shift(x, y) -> Tensor:
    """`x >> y`: bits moved `y` places towards the low end (sign kept)."""
    return _binary("bitwise_right_shift", torch.bitwise_right_shift, x, y)


@op
def right_shift(x, y) -> Tensor:
    """Alias of `bitwise_right_shift`."""
    return _binary("right_shift", torch.bitwise_right_shift, x, y)
