"""More element-wise math: inverse and hyperbolic trigonometry, exponentials
and logarithms in other bases, `hypot`, `logaddexp`, `fmod`, `gcd`, ...

As in `elementwise.py`, functions that are only defined over the reals turn
integer and bool inputs into floatx; binary ops promote their operands as Keras
does (a Python number next to a tensor is weakly typed) before computing.
"""

import torch

from lamina.ops._utils import (
    Tensor,
    floatx_dtype,
    operands,
    to_float,
    to_tensor,
    to_tensors,
)
from lamina.ops.operation import op


def _common(x1, x2):
    """Both operands as tensors of their promoted dtype (scalars weakly typed)."""
    x1, x2 = operands(x1, x2)
    dtype = torch.result_type(x1, x2)
    device = (x1 if isinstance(x1, Tensor) else x2).device
    return (
        torch.as_tensor(x1, dtype=dtype, device=device),
        torch.as_tensor(x2, dtype=dtype, device=device),
    )


def _common_float(x1, x2):
    """Like `_common`, but integer and bool results become floatx."""
    x1, x2 = _common(x1, x2)
    if not (x1.is_floating_point() or x1.is_complex()):
        x1, x2 = x1.to(floatx_dtype()), x2.to(floatx_dtype())
    return x1, x2


def _unary_float(fn, x) -> Tensor:
    return fn(to_float(to_tensor(x)))


def _to_float_wide(x: Tensor) -> Tensor:
    """`to_float`, except that int64 becomes float64, as Keras does for some ops."""
    return x.double() if x.dtype is torch.int64 else to_float(x)


def _unary_float_wide(fn, x) -> Tensor:
    return fn(_to_float_wide(to_tensor(x)))


# 1. Trigonometry and hyperbolic functions


@op
def tan(x) -> Tensor:
    """Tangent, in radians."""
    return _unary_float(torch.tan, x)


@op
def arcsin(x) -> Tensor:
    """Inverse sine, in radians within `[-pi/2, pi/2]`."""
    return _unary_float(torch.asin, x)


@op
def arccos(x) -> Tensor:
    """Inverse cosine, in radians within `[0, pi]`."""
    return _unary_float(torch.acos, x)


@op
def arctan(x) -> Tensor:
    """Inverse tangent, in radians within `[-pi/2, pi/2]`."""
    return _unary_float(torch.atan, x)


@op
def arctan2(x1, x2) -> Tensor:
    """Angle of the point `(x2, x1)` from the positive x axis, in `[-pi, pi]`.

    Example:
    >>> round(float(lamina.ops.arctan2(1.0, -1.0)), 4)
    2.3562
    """
    x1, x2 = _common_float(x1, x2)
    return torch.atan2(x1, x2)


@op
def sinh(x) -> Tensor:
    """Hyperbolic sine."""
    return _unary_float(torch.sinh, x)


@op
def cosh(x) -> Tensor:
    """Hyperbolic cosine."""
    return _unary_float(torch.cosh, x)


@op
def arcsinh(x) -> Tensor:
    """Inverse hyperbolic sine."""
    return _unary_float(torch.asinh, x)


@op
def arccosh(x) -> Tensor:
    """Inverse hyperbolic cosine (NaN below 1)."""
    return _unary_float(torch.acosh, x)


@op
def arctanh(x) -> Tensor:
    """Inverse hyperbolic tangent (infinite at +-1, NaN beyond)."""
    return _unary_float(torch.atanh, x)


@op
def deg2rad(x) -> Tensor:
    """Degrees converted to radians."""
    return _unary_float_wide(torch.deg2rad, x)


@op
def rad2deg(x) -> Tensor:
    """Radians converted to degrees."""
    return _unary_float_wide(torch.rad2deg, x)


@op
def sinc(x) -> Tensor:
    """Normalized sinc, `sin(pi * x) / (pi * x)`, with `sinc(0) = 1`."""
    return _unary_float(torch.sinc, x)


@op
def hypot(x1, x2) -> Tensor:
    """`sqrt(x1**2 + x2**2)` without overflow for large operands."""
    x1, x2 = _common_float(x1, x2)
    return torch.hypot(x1, x2)


# 2. Exponentials, logarithms, roots


@op
def exp2(x) -> Tensor:
    """`2 ** x`."""
    return _unary_float(torch.exp2, x)


@op
def expm1(x) -> Tensor:
    """`exp(x) - 1`, accurate for small `x`."""
    return _unary_float(torch.expm1, x)


@op
def log2(x) -> Tensor:
    """Base-2 logarithm."""
    return _unary_float(torch.log2, x)


@op
def log10(x) -> Tensor:
    """Base-10 logarithm."""
    return _unary_float(torch.log10, x)


@op
def logaddexp(x1, x2) -> Tensor:
    """`log(exp(x1) + exp(x2))`, computed without overflow."""
    x1, x2 = _common_float(x1, x2)
    if x1.dtype == torch.float16 and x1.device.type == "cpu":
        # torch has no float16 logaddexp kernel on the CPU.
        return torch.logaddexp(x1.float(), x2.float()).half()
    return torch.logaddexp(x1, x2)


@op
def logaddexp2(x1, x2) -> Tensor:
    """`log2(2**x1 + 2**x2)`, computed without overflow."""
    x1, x2 = _common_float(x1, x2)
    return torch.logaddexp2(x1, x2)


@op
def cbrt(x) -> Tensor:
    """Real cube root (negative for negative `x`); int64 gives float64."""
    x = _to_float_wide(to_tensor(x))
    return torch.sign(x) * torch.abs(x) ** (1.0 / 3.0)


@op
def reciprocal(x) -> Tensor:
    """`1 / x`; integer inputs give floatx."""
    return _unary_float(torch.reciprocal, x)


@op
def i0(x) -> Tensor:
    """Modified Bessel function of the first kind, order 0."""
    return _unary_float_wide(torch.i0, x)


@op
def ldexp(x1, x2) -> Tensor:
    """`x1 * 2 ** x2`, with integer exponents `x2`; the result is floating.

    Raises:
        TypeError: if `x2` is not of an integer dtype.
    """
    x1, x2 = to_tensors(x1, x2)
    if x2.is_floating_point() or x2.is_complex() or x2.dtype == torch.bool:
        raise TypeError(
            "ops.ldexp expects integer exponents `x2`; got x2 of dtype "
            f"{x2.dtype}. Cast the exponents with ops.cast(x2, 'int32')."
        )
    dtype = torch.promote_types(x1.dtype, x2.dtype)
    if not dtype.is_floating_point:
        dtype = floatx_dtype()
    return torch.ldexp(x1.to(dtype), x2)


# 3. Rounding, signs, remainders, extremes that ignore NaN


@op
def trunc(x) -> Tensor:
    """Rounded towards zero; integer and bool tensors are returned unchanged."""
    x = to_tensor(x)
    if not x.is_floating_point():
        return x
    return torch.trunc(x)


@op
def fabs(x) -> Tensor:
    """Absolute value as a float (integer and bool inputs give floatx)."""
    return _unary_float(torch.abs, x)


@op
def signbit(x) -> Tensor:
    """Whether the sign bit is set (true for negatives and for `-0.0`)."""
    x = to_tensor(x)
    if x.dtype == torch.bool:
        return torch.zeros_like(x)
    return torch.signbit(x)


@op
def fmod(x1, x2) -> Tensor:
    """Remainder with the sign of the dividend `x1` (C's `fmod`, unlike `mod`)."""
    x1, x2 = _common(x1, x2)
    if x1.dtype == torch.bool:
        x1, x2 = x1.to(torch.int32), x2.to(torch.int32)
    return torch.fmod(x1, x2)


@op
def fmax(x1, x2) -> Tensor:
    """Element-wise maximum that ignores NaN (NaN only where both are NaN)."""
    x1, x2 = _common(x1, x2)
    return torch.fmax(x1, x2)


@op
def fmin(x1, x2) -> Tensor:
    """Element-wise minimum that ignores NaN (NaN only where both are NaN)."""
    x1, x2 = _common(x1, x2)
    return torch.fmin(x1, x2)


@op
def heaviside(x1, x2) -> Tensor:
    """Step function: 0 where `x1 < 0`, `x2` where `x1 == 0`, 1 where `x1 > 0`."""
    x1, x2 = _common_float(x1, x2)
    return torch.heaviside(x1, x2)


@op
def nextafter(x1, x2) -> Tensor:
    """The next representable float after `x1` in the direction of `x2`."""
    x1, x2 = _common_float(x1, x2)
    if x1.dtype in (torch.float16, torch.bfloat16):
        # Keras steps in float64 and rounds back for the 16-bit types.
        return torch.nextafter(x1.double(), x2.double()).to(x1.dtype)
    return torch.nextafter(x1, x2)


@op
def divide_no_nan(x1, x2) -> Tensor:
    """`x1 / x2`, with 0 wherever `x2` is 0 (instead of inf or NaN)."""
    x1, x2 = _common_float(x1, x2)
    zero = x2 == 0
    safe = torch.where(zero, torch.ones_like(x2), x2)
    return torch.where(zero, torch.zeros_like(x1), x1 / safe)


# 4. Integer arithmetic


def _integer_operands(name, x1, x2):
    x1, x2 = _common(x1, x2)
    if x1.is_floating_point() or x1.is_complex():
        raise TypeError(
            f"ops.{name} expects integer tensors; got the dtype {x1.dtype} after "
            "promoting the operands. Cast them with ops.cast(x, 'int32')."
        )
    if x1.dtype == torch.bool:
        x1, x2 = x1.to(torch.int32), x2.to(torch.int32)
    return x1, x2


@op
def gcd(x1, x2) -> Tensor:
    """Greatest common divisor of integer tensors (non-negative)."""
    return torch.gcd(*_integer_operands("gcd", x1, x2))


@op
def lcm(x1, x2) -> Tensor:
    """Least common multiple of integer tensors (non-negative)."""
    return torch.lcm(*_integer_operands("lcm", x1, x2))


# 5. Logic


@op
def logical_xor(x1, x2) -> Tensor:
    """Truth of `x1 != x2` as booleans (nonzero counts as true)."""
    x1, x2 = to_tensors(x1, x2)
    return torch.logical_xor(x1, x2)
