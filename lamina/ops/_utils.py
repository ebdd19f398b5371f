"""Helpers shared by the op modules: turning arguments into tensors, axis checks.

Tensors pass through untouched (the hot path costs one `isinstance`); anything
else goes through `lamina.backend.convert_to_tensor` with Keras's dtype choices
for Python values: `int` -> int32, `float` -> floatx, `bool` -> bool.
"""

import numpy as np
import torch

from lamina import backend

Tensor = torch.Tensor

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_SCALARS = (bool, int, float)

# Keras sums (and multiplies) small integer types in int32, as JAX does.
_ACCUMULATE_INT32 = frozenset(
    (torch.bool, torch.uint8, torch.int8, torch.int16, torch.uint16)
)


def to_tensor(x, device=None) -> Tensor:
    """`x` as a tensor; tensors are returned as they are (same device, dtype)."""
    if isinstance(x, Tensor):
        return x
    if type(x) in _SCALARS:
        # Straight to torch: a NumPy float64 detour would leave a float64
        # constant in graphs that torch.export or torch.compile capture.
        if type(x) is int and not _INT32_MIN <= x <= _INT32_MAX:
            return torch.tensor(x, dtype=torch.int64, device=device)
        dtype = "int32" if type(x) is int else None
        return backend.convert_to_tensor(x, dtype=dtype, device=device)
    if isinstance(x, (np.ndarray, np.generic)) or hasattr(x, "to_numpy"):
        # Arrays (ml_dtypes' bfloat16 too, whose bits it reads) and pandas.
        return backend.convert_to_tensor(x, device=device)
    if isinstance(x, (list, tuple)) and x and all(isinstance(e, Tensor) for e in x):
        return torch.stack([to_tensor(e) for e in x])
    array = np.asarray(x)
    if array.dtype == np.int64 and (
        array.size == 0 or _INT32_MIN <= array.min() and array.max() <= _INT32_MAX
    ):
        # Keras: Python ints become int32 (int64 only when they do not fit).
        array = array.astype(np.int32)
    elif array.dtype == np.complex128:
        array = array.astype(np.complex64)  # Keras: Python complex is complex64
    return backend.convert_to_tensor(array, device=device)


def to_tensors(x1, x2):
    """Both operands as tensors, the converted one on the other's device."""
    if isinstance(x1, Tensor):
        if isinstance(x2, Tensor):
            return x1, x2
        return x1, to_tensor(x2, device=x1.device)
    if isinstance(x2, Tensor):
        return to_tensor(x1, device=x2.device), x2
    return to_tensor(x1), to_tensor(x2)


def operands(x1, x2):
    """Operands for torch ops that accept Python scalars (kept weakly typed).

    `tensor + 2` keeps the tensor's dtype in torch as in Keras, so scalars next
    to a tensor stay Python numbers; everything else becomes a tensor.
    """
    if isinstance(x1, Tensor):
        if isinstance(x2, Tensor):
            return x1, x2
        if type(x2) in _SCALARS:
            if x1.dtype is torch.bool and type(x2) is not bool:
                return x1, _weak_scalar(x2, x1.device)
            return x1, x2
        return x1, to_tensor(x2, device=x1.device)
    if isinstance(x2, Tensor):
        if type(x1) in _SCALARS:
            if x2.dtype is torch.bool and type(x1) is not bool:
                return _weak_scalar(x1, x2.device), x2
            return x1, x2
        return to_tensor(x1, device=x2.device), x2
    return to_tensor(x1), to_tensor(x2)


def _weak_scalar(value, device) -> Tensor:
    """A Python int or float next to a bool tensor as a 0-d tensor of Keras's
    result dtype (int32 or floatx); torch alone would give int64 or float32."""
    if type(value) is float:
        return torch.tensor(value, dtype=floatx_dtype(), device=device)
    return to_tensor(value, device=device)


def floatx_dtype() -> torch.dtype:
    return backend.to_torch_dtype(backend.floatx())


def to_float(x: Tensor) -> Tensor:
    """`x` itself when floating, else cast to floatx (Keras: ints give floats)."""
    if x.is_floating_point() or x.is_complex():
        return x
    return x.to(floatx_dtype())


def accumulate_dtype(x: Tensor):
    """dtype for sums/products of `x`: small ints and bool widen to int32."""
    if x.dtype in _ACCUMULATE_INT32 or x.dtype == torch.int32:
        return torch.int32
    return None


def axis_error(name: str, axis, ndim: int, subject: str = "a tensor") -> ValueError:
    if ndim == 0:
        return ValueError(
            f"ops.{name} got axis={axis!r} for a 0-d tensor, which has no axes; "
            "use axis=None."
        )
    low, high = -ndim, ndim - 1
    return ValueError(
        f"ops.{name} got axis={axis!r}, which is out of range for {subject} of "
        f"rank {ndim} (axis {axis} is out of bounds); expected an int in [{low}, {high}] (or a tuple of such "
        "ints, or None). Check the axis or the shape of the input."
    )


def check_axis(
    name: str, axis, ndim: int, allow_none: bool = True, subject: str = "a tensor"
):
    """`axis` validated against `ndim`: an int, a tuple of ints, or None.

    Lists become tuples; negative values are kept (torch accepts them).
    `subject` names what has rank `ndim` in the error ("a tensor", "the result").
    """
    if type(axis) is int:
        if -ndim <= axis < ndim:
            return axis
        raise axis_error(name, axis, ndim, subject)
    if axis is None and allow_none:
        return None
    if isinstance(axis, (tuple, list)):
        axes = tuple(axis)
        for a in axes:
            if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
                break
            if not -ndim <= a < ndim:
                raise axis_error(name, axis, ndim, subject)
        else:
            if len({a % ndim for a in axes}) != len(axes):
                raise ValueError(
                    f"ops.{name} got axis={axis!r} with a repeated axis; each "
                    "axis may appear once."
                )
            return tuple(int(a) for a in axes)
    if isinstance(axis, np.integer):
        return check_axis(name, int(axis), ndim, allow_none, subject)
    raise TypeError(
        f"ops.{name} expects `axis` to be an int or a tuple of ints"
        f"{' or None' if allow_none else ''}; got axis={axis!r} of type "
        f"{type(axis).__name__}."
    )


def shape_tuple(name: str, shape) -> tuple:
    """A shape argument (int, tuple, list, torch.Size, tensor) as a tuple of ints."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        return (int(shape),)
    if isinstance(shape, Tensor):
        shape = shape.tolist()
    try:
        return tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        if isinstance(shape, (tuple, list)) and None in shape:
            raise TypeError(
                f"ops.{name} expects `shape` to be a sequence of ints; got "
                f"shape={tuple(shape)!r}. None is an unknown size (ops.shape of a "
                "symbolic tensor gives None for the batch axis): write -1 for the "
                "one size to infer, or compute the shape inside a layer's call() "
                "(e.g. a Lambda layer), where ops.shape gives ints."
            ) from None
        raise TypeError(
            f"ops.{name} expects `shape` to be an int or a sequence of ints; got "
            f"shape={shape!r}."
        ) from None
