"""Element-wise ops: arithmetic, unary math, comparisons, logic, rounding.

Binary ops broadcast as NumPy does and promote dtypes as Keras does (which for
tensor pairs is torch's promotion): a Python number next to a tensor is weakly
typed (`int32_tensor + 2` stays int32, `int32_tensor + 0.5` becomes float32);
`divide` and the transcendental functions turn integer inputs into floatx.
"""

import torch

from lamina.ops._utils import Tensor, operands, to_float, to_tensor, to_tensors
from lamina.ops.operation import op

# 1. Arithmetic


@op
def add(x1, x2) -> Tensor:
    """`x1 + x2`, broadcast."""
    x1, x2 = operands(x1, x2)
    return x1 + x2


@op
def subtract(x1, x2) -> Tensor:
    """`x1 - x2`, broadcast; a bool operand takes the other's dtype (Keras)."""
    x1, x2 = operands(x1, x2)
    if type(x1) is bool or type(x2) is bool:
        x1, x2 = (int(x) if type(x) is bool else x for x in (x1, x2))
    elif isinstance(x1, Tensor) and isinstance(x2, Tensor):
        if x1.dtype is torch.bool and x2.dtype is not torch.bool:
            x1 = x1.to(x2.dtype)
        elif x2.dtype is torch.bool and x1.dtype is not torch.bool:
            x2 = x2.to(x1.dtype)
    return x1 - x2


@op
def multiply(x1, x2) -> Tensor:
    """`x1 * x2`, broadcast."""
    x1, x2 = operands(x1, x2)
    return x1 * x2


@op
def divide(x1, x2) -> Tensor:
    """True division `x1 / x2`; integer inputs give a float result, as in Keras.

    Example:
    >>> lamina.ops.divide(lamina.ops.arange(3), 2).tolist()
    [0.0, 0.5, 1.0]
    """
    x1, x2 = operands(x1, x2)
    return x1 / x2


@op
def true_divide(x1, x2) -> Tensor:
    """Alias of `divide`."""
    x1, x2 = operands(x1, x2)
    return x1 / x2


@op
def floor_divide(x1, x2) -> Tensor:
    """`x1 // x2` rounded towards minus infinity, as NumPy does."""
    x1, x2 = operands(x1, x2)
    return x1 // x2


@op
def mod(x1, x2) -> Tensor:
    """Remainder with the sign of the divisor (NumPy's and Python's `%`)."""
    x1, x2 = operands(x1, x2)
    return x1 % x2


@op
def power(x1, x2) -> Tensor:
    """`x1 ** x2`, broadcast."""
    x1, x2 = operands(x1, x2)
    if type(x2) is int and x2 < 0 and not x1.is_floating_point():
        # torch refuses a negative Python int exponent for integer bases;
        # as a tensor (Keras converts it) it gives NumPy's integer results.
        x2 = to_tensor(x2, device=x1.device)
    return x1**x2


@op
def negative(x) -> Tensor:
    """`-x`."""
    return -to_tensor(x)


@op
def abs(x) -> Tensor:
    """Absolute value; keeps the dtype (bool stays bool)."""
    x = to_tensor(x)
    if x.dtype == torch.bool:
        return x
    return torch.abs(x)


@op
def absolute(x) -> Tensor:
    """Alias of `abs`."""
    x = to_tensor(x)
    if x.dtype == torch.bool:
        return x
    return torch.abs(x)


@op
def square(x) -> Tensor:
    """`x * x`; bool inputs give int32, as in Keras."""
    x = to_tensor(x)
    if x.dtype == torch.bool:
        x = x.to(torch.int32)
    return torch.square(x)


@op
def sign(x) -> Tensor:
    """-1, 0 or 1 by the sign of each element, in `x`'s dtype."""
    return torch.sign(to_tensor(x))


@op
def maximum(x1, x2) -> Tensor:
    """Element-wise maximum; NaN wins, as in NumPy."""
    x1, x2 = operands(x1, x2)
    if not isinstance(x2, Tensor) and x1.dtype is not torch.bool:
        return torch.clamp(x1, min=x2)
    if not isinstance(x1, Tensor) and x2.dtype is not torch.bool:
        return torch.clamp(x2, min=x1)
    return torch.maximum(*to_tensors(x1, x2))


@op
def minimum(x1, x2) -> Tensor:
    """Element-wise minimum; NaN wins, as in NumPy."""
    x1, x2 = operands(x1, x2)
    if not isinstance(x2, Tensor) and x1.dtype is not torch.bool:
        return torch.clamp(x1, max=x2)
    if not isinstance(x1, Tensor) and x2.dtype is not torch.bool:
        return torch.clamp(x2, max=x1)
    return torch.minimum(*to_tensors(x1, x2))


@op
def clip(x, x_min, x_max) -> Tensor:
    """`x` limited to `[x_min, x_max]`; bool inputs are clipped as int32 (Keras)."""
    x = to_tensor(x)
    if x.dtype == torch.bool:
        x = x.to(torch.int32)
    scalar_min = x_min is None or type(x_min) in (int, float)
    scalar_max = x_max is None or type(x_max) in (int, float)
    if not (scalar_min and scalar_max):
        # torch.clamp takes two numbers or two tensors, not one of each.
        x_min = None if x_min is None else to_tensor(x_min, device=x.device)
        x_max = None if x_max is None else to_tensor(x_max, device=x.device)
    return torch.clamp(x, min=x_min, max=x_max)


# 2. Exponentials, logarithms, roots, trigonometry: integers give floatx.


@op
def exp(x) -> Tensor:
    """`e ** x`."""
    return torch.exp(to_float(to_tensor(x)))


@op
def log(x) -> Tensor:
    """Natural logarithm."""
    return torch.log(to_float(to_tensor(x)))


@op
def log1p(x) -> Tensor:
    """`log(1 + x)`, accurate for small `x`."""
    return torch.log1p(to_float(to_tensor(x)))


@op
def sqrt(x) -> Tensor:
    """Square root."""
    return torch.sqrt(to_float(to_tensor(x)))


@op
def sin(x) -> Tensor:
    """Sine, in radians."""
    return torch.sin(to_float(to_tensor(x)))


@op
def cos(x) -> Tensor:
    """Cosine, in radians."""
    return torch.cos(to_float(to_tensor(x)))


@op
def tanh(x) -> Tensor:
    """Hyperbolic tangent."""
    return torch.tanh(to_float(to_tensor(x)))


# 3. Rounding and cleaning up


@op
def round(x, decimals: int = 0) -> Tensor:
    """Round half to even to `decimals` places (negative: tens, hundreds, ...)."""
    x = to_tensor(x)
    if x.is_floating_point():
        return torch.round(x, decimals=decimals)
    if decimals >= 0:
        return x
    # Integers with negative decimals: round to a multiple of 10**-decimals.
    factor = 10 ** (-decimals)
    return (torch.round(x.double() / factor) * factor).to(x.dtype)


@op
def floor(x) -> Tensor:
    """Largest integer not above `x`, as a float (integer inputs give floatx)."""
    return torch.floor(to_float(to_tensor(x)))


@op
def ceil(x) -> Tensor:
    """Smallest integer not below `x`, as a float (integer inputs give floatx)."""
    return torch.ceil(to_float(to_tensor(x)))


@op
def nan_to_num(x, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    """NaN replaced by `nan`, infinities by `posinf`/`neginf` (default: the
    largest/smallest finite value of the dtype). Integer tensors are unchanged."""
    x = to_tensor(x)
    if not x.is_floating_point():
        return x
    return torch.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


@op
def where(condition, x1=None, x2=None):
    """`x1` where `condition` holds, else `x2`; both broadcast with `condition`.

    With only `condition`, the indices of its nonzero elements, one tensor per
    axis (this needs the data on the host, so keep it out of training steps).
    """
    condition = to_tensor(condition)
    if x1 is None and x2 is None:
        return torch.nonzero(condition, as_tuple=True)
    if x1 is None or x2 is None:
        raise ValueError(
            "ops.where expects both `x1` and `x2`, or neither (`x1` and `x2` "
            "either both should be `None` or both should have values); got "
            f"x1={'None' if x1 is None else '...'}, "
            f"x2={'None' if x2 is None else '...'}."
        )
    if condition.dtype != torch.bool:
        condition = condition != 0
    if not isinstance(x1, Tensor) and not isinstance(x2, Tensor):
        x1, x2 = to_tensors(x1, x2)
    else:
        x1, x2 = operands(x1, x2)
    return torch.where(condition, x1, x2)


# 4. Comparisons and logic: boolean results


@op
def equal(x1, x2) -> Tensor:
    """`x1 == x2` element-wise."""
    x1, x2 = operands(x1, x2)
    return x1 == x2


@op
def not_equal(x1, x2) -> Tensor:
    """`x1 != x2` element-wise."""
    x1, x2 = operands(x1, x2)
    return x1 != x2


@op
def greater(x1, x2) -> Tensor:
    """`x1 > x2` element-wise."""
    x1, x2 = operands(x1, x2)
    return x1 > x2


@op
def greater_equal(x1, x2) -> Tensor:
    """`x1 >= x2` element-wise."""
    x1, x2 = operands(x1, x2)
    return x1 >= x2


@op
def less(x1, x2) -> Tensor:
    """`x1 < x2` element-wise."""
    x1, x2 = operands(x1, x2)
    return x1 < x2


@op
def less_equal(x1, x2) -> Tensor:
    """`x1 <= x2` element-wise."""
    x1, x2 = operands(x1, x2)
    return x1 <= x2


@op
def logical_and(x1, x2) -> Tensor:
    """Truth of `x1 and x2` element-wise (nonzero counts as true)."""
    x1, x2 = to_tensors(x1, x2)
    return torch.logical_and(x1, x2)


@op
def logical_or(x1, x2) -> Tensor:
    """Truth of `x1 or x2` element-wise (nonzero counts as true)."""
    x1, x2 = to_tensors(x1, x2)
    return torch.logical_or(x1, x2)


@op
def logical_not(x) -> Tensor:
    """Truth of `not x` element-wise (nonzero counts as true)."""
    return torch.logical_not(to_tensor(x))


@op
def isnan(x) -> Tensor:
    """Whether each element is NaN."""
    return torch.isnan(to_tensor(x))


@op
def isinf(x) -> Tensor:
    """Whether each element is plus or minus infinity."""
    return torch.isinf(to_tensor(x))


@op
def isfinite(x) -> Tensor:
    """Whether each element is neither infinite nor NaN."""
    return torch.isfinite(to_tensor(x))
