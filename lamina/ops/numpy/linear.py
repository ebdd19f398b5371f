"""Products: `matmul`, `dot`, `tensordot`, `einsum`, `outer`.

torch's products want one dtype; mixed inputs are promoted first (Keras does
the same), so `ops.matmul(int_tensor, float_tensor)` works.
"""

import torch

from lamina.ops._utils import Tensor, to_tensor, to_tensors
from lamina.ops.operation import op


def _promote(x1: Tensor, x2: Tensor):
    if x1.dtype != x2.dtype:
        dtype = torch.promote_types(x1.dtype, x2.dtype)
        x1, x2 = x1.to(dtype), x2.to(dtype)
    return x1, x2


def _integer_on_accelerator(x: Tensor) -> bool:
    # CUDA and MPS have no integer matmul kernels; Keras computes those in float.
    return not x.is_floating_point() and x.device.type != "cpu"


def _matmul(x1: Tensor, x2: Tensor) -> Tensor:
    if _integer_on_accelerator(x1):
        return torch.matmul(x1.double(), x2.double()).to(x1.dtype)
    return torch.matmul(x1, x2)


def _shape_error(name, x1, x2, error):
    return ValueError(
        f"ops.{name} got incompatible shapes {tuple(x1.shape)} and "
        f"{tuple(x2.shape)}: {error}"
    )


@op
def matmul(x1, x2) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are vectors, leading axes
    broadcast as batch axes.

    Example:
    >>> lamina.ops.matmul([[1.0, 2.0]], [[3.0], [4.0]]).tolist()
    [[11.0]]
    """
    x1, x2 = to_tensors(x1, x2)
    if x1.dtype != x2.dtype:
        x1, x2 = _promote(x1, x2)
    try:
        return torch.matmul(x1, x2)  # the hot path
    except RuntimeError as error:
        first_error = error
    # Scalars, integers on an accelerator, or shapes that do not fit.
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError(
            "ops.matmul does not take scalars (0-d tensors); got shapes "
            f"{tuple(x1.shape)} and {tuple(x2.shape)}. Use ops.multiply."
        )
    try:
        return _matmul(x1, x2)
    except RuntimeError as error:
        raise _shape_error("matmul", x1, x2, error) from first_error


@op
def dot(x1, x2) -> Tensor:
    """NumPy `dot`: scalars multiply; 1-D x 1-D is the inner product; otherwise
    a sum over the last axis of `x1` and the second-to-last of `x2` (the last
    when `x2` is 1-D), unlike `torch.dot`, which takes only vectors."""
    x1, x2 = _promote(*to_tensors(x1, x2))
    if x1.ndim == 0 or x2.ndim == 0:
        return x1 * x2
    try:
        if x2.ndim <= 2:
            return _matmul(x1, x2)
        if _integer_on_accelerator(x1):
            out = torch.tensordot(x1.double(), x2.double(), dims=([-1], [-2]))
            return out.to(x1.dtype)
        return torch.tensordot(x1, x2, dims=([x1.ndim - 1], [x2.ndim - 2]))
    except RuntimeError as error:
        raise _shape_error("dot", x1, x2, error) from error


@op
def tensordot(x1, x2, axes=2) -> Tensor:
    """Sum of products over `axes`: an int N (last N of `x1` with first N of
    `x2`) or a pair `(axes_of_x1, axes_of_x2)`."""
    x1, x2 = _promote(*to_tensors(x1, x2))
    if not isinstance(axes, int):
        first, second = axes
        first = [first] if isinstance(first, int) else list(first)
        second = [second] if isinstance(second, int) else list(second)
        axes = (first, second)
    try:
        return torch.tensordot(x1, x2, dims=axes)
    except RuntimeError as error:
        raise _shape_error("tensordot", x1, x2, error) from error


@op
def einsum(subscripts: str, *operands, **kwargs) -> Tensor:
    """Einstein summation, e.g. `ops.einsum("bij,bjk->bik", a, b)`.

    Operands of different dtypes are promoted to a common one. `optimize` (a
    NumPy option) is accepted and ignored; torch plans the contraction itself.
    """
    unknown = set(kwargs) - {"optimize"}
    if unknown:
        raise TypeError(
            f"ops.einsum got unexpected keyword arguments {sorted(unknown)}; it "
            "takes the subscripts string and the operands."
        )
    device = next((x.device for x in operands if isinstance(x, Tensor)), None)
    tensors = [to_tensor(x, device=device) for x in operands]
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    tensors = [t if t.dtype == dtype else t.to(dtype) for t in tensors]
    return torch.einsum(subscripts, *tensors)


@op
def outer(x1, x2) -> Tensor:
    """Outer product of the flattened `x1` and `x2`."""
    x1, x2 = _promote(*to_tensors(x1, x2))
    return torch.outer(x1.reshape(-1), x2.reshape(-1))
