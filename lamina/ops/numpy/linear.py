"""Products and friends: `matmul`, `dot`, `tensordot`, `einsum`, `outer`, `inner`,
`vdot`, `kron`, `cross`, `correlate`, `trapezoid`, `vander`, `slogdet`.

torch's products want one dtype; mixed inputs are promoted first (Keras does
the same), so `ops.matmul(int_tensor, float_tensor)` works.
"""

import torch
import torch.nn.functional as F

from lamina.ops._utils import (
    Tensor,
    check_axis,
    floatx_dtype,
    to_float,
    to_tensor,
    to_tensors,
)
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
    if x1.dtype is torch.bool:
        # Keras: a bool product is bool, true where a pair of trues meets.
        return torch.matmul(x1.float(), x2.float()) != 0
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
    elif x1.dtype is torch.int8:
        # Keras: an int8 x int8 product accumulates and returns int32.
        x1, x2 = x1.to(torch.int32), x2.to(torch.int32)
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
    if all(t.dtype is torch.int8 for t in tensors):
        dtype = torch.int32  # Keras: all-int8 operands give an int32 result
    tensors = [t if t.dtype == dtype else t.to(dtype) for t in tensors]
    if _integer_on_accelerator(tensors[0]):
        # CUDA has no integer batched products: as matmul, exact in float64.
        wide = [t.double() for t in tensors]
        return torch.einsum(subscripts, *wide).to(dtype)
    return torch.einsum(subscripts, *tensors)


@op
def outer(x1, x2) -> Tensor:
    """Outer product of the flattened `x1` and `x2`."""
    x1, x2 = _promote(*to_tensors(x1, x2))
    return torch.outer(x1.reshape(-1), x2.reshape(-1))


def _in_float(fn, x1: Tensor, x2: Tensor) -> Tensor:
    """`fn(x1, x2)` for one-dtype operands; integers are computed in float64
    (float32 on MPS) and cast back, as accelerators lack integer kernels."""
    if x1.is_floating_point() or x1.is_complex():
        if x1.dtype == torch.float16 and x1.device.type == "cpu":
            return fn(x1.float(), x2.float()).half()
        return fn(x1, x2)
    compute = torch.float32 if x1.device.type == "mps" else torch.float64
    return fn(x1.to(compute), x2.to(compute)).round().to(x1.dtype)


@op
def inner(x1, x2) -> Tensor:
    """Sum of products over the last axes of `x1` and `x2` (a product for
    scalars); the result's shape is `x1.shape[:-1] + x2.shape[:-1]`."""
    x1, x2 = _promote(*to_tensors(x1, x2))
    if x1.ndim and x2.ndim and x1.shape[-1] != x2.shape[-1]:
        raise ValueError(
            "ops.inner expects the last dimension of both inputs to have one "
            "length; got shapes "
            f"{tuple(x1.shape)} and {tuple(x2.shape)}."
        )
    return _in_float(torch.inner, x1, x2)


@op
def vdot(x1, x2) -> Tensor:
    """Dot product of the flattened `x1` and `x2`, conjugating `x1` if complex."""
    x1, x2 = _promote(*to_tensors(x1, x2))
    x1, x2 = x1.reshape(-1), x2.reshape(-1)
    if x1.shape != x2.shape:
        raise ValueError(
            "ops.vdot expects inputs with one number of elements; got "
            f"{x1.numel()} and {x2.numel()}."
        )
    return _in_float(torch.vdot, x1, x2)


@op
def kron(x1, x2) -> Tensor:
    """Kronecker product: blocks of `x2` scaled by each element of `x1`."""
    x1, x2 = _promote(*to_tensors(x1, x2))
    return torch.kron(x1, x2)


@op
def cross(x1, x2, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis=None):
    """Cross product of 3-vectors (or 2-vectors, taken with a zero third
    component) along `axisa` of `x1` and `axisb` of `x2`, placed along `axisc`
    of the result; `axis`, if given, sets all three. Two 2-vectors give only the
    third component, with no vector axis.
    """
    x1, x2 = _promote(*to_tensors(x1, x2))
    if axis is not None:
        axisa = axisb = axisc = axis
    check_axis("cross", axisa, x1.ndim, allow_none=False)
    check_axis("cross", axisb, x2.ndim, allow_none=False)
    x1, x2 = torch.movedim(x1, axisa, -1), torch.movedim(x2, axisb, -1)
    sizes = (x1.shape[-1], x2.shape[-1])
    if not set(sizes) <= {2, 3}:
        raise ValueError(
            "ops.cross expects vectors of 2 or 3 components along the vector "
            f"axes; got {sizes[0]} and {sizes[1]}."
        )
    compute = x1
    if x1.dtype == torch.float16 and x1.device.type == "cpu":
        x1, x2 = x1.float(), x2.float()  # no float16 kernel on the CPU
    if sizes == (2, 2):
        z = x1[..., 0] * x2[..., 1] - x1[..., 1] * x2[..., 0]
        return z.to(compute.dtype)
    if sizes[0] == 2:
        x1 = F.pad(x1, (0, 1))
    if sizes[1] == 2:
        x2 = F.pad(x2, (0, 1))
    x1, x2 = torch.broadcast_tensors(x1, x2)
    result = torch.linalg.cross(x1, x2, dim=-1).to(compute.dtype)
    check_axis("cross", axisc, result.ndim, False, "the result")
    return torch.movedim(result, -1, axisc)


@op
def correlate(x1, x2, mode: str = "valid") -> Tensor:
    """Cross-correlation of two 1-D sequences, `c[k] = sum_n x1[n + k] * x2[n]`.

    `mode`: "full" (every overlap, length N + M - 1), "same" (length
    `max(N, M)`, centred) or "valid" (full overlaps only). Integer inputs give
    floatx.
    """
    if mode not in ("valid", "same", "full"):
        raise ValueError(
            f"ops.correlate expects mode='valid', 'same' or 'full'; got mode={mode!r}."
        )
    x1, x2 = _promote(*to_tensors(x1, x2))
    if x1.ndim != 1 or x2.ndim != 1 or not x1.numel() or not x2.numel():
        raise ValueError(
            "ops.correlate expects two non-empty 1-D tensors; got shapes "
            f"{tuple(x1.shape)} and {tuple(x2.shape)}."
        )
    if not x1.is_floating_point():
        x1, x2 = x1.to(floatx_dtype()), x2.to(floatx_dtype())
    n, m = x1.shape[0], x2.shape[0]
    compute = torch.float32 if x1.dtype == torch.float16 else x1.dtype
    full = F.conv1d(
        x1.to(compute).reshape(1, 1, n), x2.to(compute).reshape(1, 1, m), padding=m - 1
    ).reshape(-1)
    if mode == "valid":
        length, start = max(n, m) - min(n, m) + 1, min(n, m) - 1
    elif mode == "same":
        length = max(n, m)
        start = (full.shape[0] - length) // 2
    else:
        length, start = full.shape[0], 0
    return full[start : start + length].to(x1.dtype)


@op
def trapezoid(y, x=None, dx=1.0, axis: int = -1) -> Tensor:
    """Integral of `y` along `axis` by the trapezoidal rule, at sample points
    `x` (or evenly spaced `dx` apart)."""
    y = to_float(to_tensor(y))
    check_axis("trapezoid", axis, y.ndim, allow_none=False)
    if x is None:
        return torch.trapezoid(y, dx=float(dx), dim=axis)
    x = to_float(to_tensor(x, device=y.device))
    y, x = _promote(y, x)
    return torch.trapezoid(y, x, dim=axis)


@op
def vander(x, N=None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of 1-D `x`: columns are powers of `x`, from
    `x**(N-1)` down to `x**0` (up, with `increasing=True`); `N` defaults to
    `len(x)`."""
    x = to_tensor(x)
    if x.ndim != 1:
        raise ValueError(
            f"ops.vander expects a 1-D tensor; got shape {tuple(x.shape)}."
        )
    if N is not None and (isinstance(N, bool) or not isinstance(N, int) or N < 0):
        raise ValueError(f"ops.vander expects `N` to be an int >= 0; got N={N!r}.")
    return torch.vander(x, N=N, increasing=increasing).to(x.dtype)


@op
def slogdet(x) -> tuple:
    """Sign and natural log of the absolute determinant of the square matrices
    in the last two axes: `(sign, logabsdet)`, so `det = sign * exp(logabsdet)`.
    """
    x = to_float(to_tensor(x))
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(
            "ops.slogdet expects square matrices in the last two axes; got shape "
            f"{tuple(x.shape)}."
        )
    sign, logabsdet = torch.linalg.slogdet(x)
    return sign, logabsdet
