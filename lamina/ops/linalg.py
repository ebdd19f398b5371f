"""Linear-algebra ops (`keras.ops.linalg`): norms, factorisations, inverses,
solvers, and `jvp`.

Matrices are the last two axes (leading axes are a batch); integer inputs
compute in floatx.
"""

import warnings

import torch

from lamina.backend.keras_tensor import KerasTensor
from lamina.ops._utils import Tensor, check_axis, to_float, to_tensor, to_tensors
from lamina.ops.operation import op


@op
def norm(x, ord=None, axis=None, keepdims: bool = False) -> Tensor:
    """Vector or matrix norm, NumPy's `linalg.norm` rules.

    `axis=None` with `ord=None`: the 2-norm of the flattened `x`. An int `axis`:
    vector norms (`ord` a number, `inf`, `-inf` or 0). A pair of axes: matrix
    norms (`"fro"`, `"nuc"`, `inf`, `-inf`, 1, -1, 2, -2). Integers give floatx.

    Example:
    >>> float(lamina.ops.norm([3.0, 4.0]))
    5.0
    """
    x = to_float(to_tensor(x))
    axis = check_axis("norm", axis, x.ndim)
    if axis is None and ord is not None and x.ndim > 2:
        raise ValueError(
            f"ops.norm with ord={ord!r} needs `axis` for a tensor of rank {x.ndim}; "
            "pass axis=-1 (vector norm) or a pair of axes (matrix norm)."
        )
    if isinstance(axis, tuple) and len(axis) not in (1, 2):
        raise ValueError(
            f"ops.norm expects one axis (vector norm) or two (matrix norm); got "
            f"axis={axis!r}."
        )
    try:
        return torch.linalg.norm(x, ord=ord, dim=axis, keepdim=keepdims)
    except RuntimeError as error:
        raise ValueError(
            f"ops.norm cannot compute ord={ord!r} over axis={axis!r}: {error}"
        ) from error


def _matrix(name: str, x, square: bool = True) -> Tensor:
    x = to_float(to_tensor(x))
    if x.ndim < 2 or (square and x.shape[-1] != x.shape[-2]):
        kind = "square matrices (..., n, n)" if square else "matrices (..., m, n)"
        low = " Input should have rank >= 2." if x.ndim < 2 else ""
        raise ValueError(
            f"ops.{name} expects {kind} in the last two axes.{low} Received: "
            f"shape {tuple(x.shape)}."
        )
    return x


def _matrix_and_rhs(name: str, a, b):
    a, b = to_tensors(a, b)
    a = _matrix(name, a, square=name != "lstsq")
    b = b.to(a.dtype)
    if (
        b.ndim not in (a.ndim, a.ndim - 1)
        or b.shape[a.ndim - 2 if b.ndim == a.ndim else -1] != a.shape[-2]
    ):
        raise ValueError(
            f"ops.{name} expects `b` of shape (..., {a.shape[-2]}) or "
            f"(..., {a.shape[-2]}, k) for `a` of shape {tuple(a.shape)}; got b of "
            f"shape {tuple(b.shape)}."
        )
    return a, b


def _check_symbolic_square(name, x, b=None):
    """Keras's symbolic check of square matrices (and of a right-hand side `b`
    that fits them): one of two sizes that must match being unknown is an
    error, as in Keras, where shape inference would pin it to the other.
    Returns `NotImplemented` (the shape is left to shape inference)."""
    if not isinstance(x, KerasTensor) or x.ndim < 2:
        return NotImplemented
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"ops.{name} expects square matrices (..., n, n) in the last two "
            f"axes (Expected a square matrix); got symbolic shape {x.shape}, "
            "whose last two sizes may differ."
        )
    if isinstance(b, KerasTensor) and b.ndim in (x.ndim, x.ndim - 1):
        rows = b.shape[-2] if b.ndim == x.ndim else b.shape[-1]
        if rows != x.shape[-2]:
            raise ValueError(
                f"ops.{name} expects `b` whose rows match `a`'s "
                f"({x.shape[-2]}); got symbolic shapes a={x.shape}, b={b.shape}."
            )
    return NotImplemented


def _square_spec(name):
    def rule(x, *args, **kwargs):
        return _check_symbolic_square(name, x)

    return rule


def _square_and_rhs_spec(name):
    def rule(a, b, *args, **kwargs):
        return _check_symbolic_square(name, a, b)

    return rule


@op(output_spec=_square_spec("cholesky"))
def cholesky(x, upper: bool = False) -> Tensor:
    """The Cholesky factor `L` of a symmetric positive-definite `x = L L^T`
    (`U` with `x = U^T U` when `upper`)."""
    x = _matrix("cholesky", x)
    try:
        return torch.linalg.cholesky(x, upper=upper)
    except RuntimeError as error:
        raise ValueError(
            "ops.cholesky expects symmetric positive-definite matrices; the "
            f"factorisation failed for an input of shape {tuple(x.shape)}: {error}"
        ) from error


@op(output_spec=_square_spec("cholesky_inverse"))
def cholesky_inverse(x, upper: bool = False) -> Tensor:
    """The inverse of `A` from its Cholesky factor `x` (lower, or upper when
    `upper`)."""
    return torch.cholesky_inverse(_matrix("cholesky_inverse", x), upper=upper)


@op(output_spec=_square_spec("det"))
def det(x) -> Tensor:
    """Determinants of square matrices."""
    return torch.linalg.det(_matrix("det", x))


@op(output_spec=_square_spec("eig"))
def eig(x):
    """Eigenvalues and eigenvectors `(w, v)` of general square matrices (complex
    results)."""
    return torch.linalg.eig(_matrix("eig", x))


@op(output_spec=_square_spec("eigh"))
def eigh(x):
    """Eigenvalues (ascending) and eigenvectors `(w, v)` of symmetric (Hermitian)
    matrices; only the lower triangle is read."""
    return torch.linalg.eigh(_matrix("eigh", x))


@op(output_spec=_square_spec("inv"))
def inv(x) -> Tensor:
    """Inverses of square matrices."""
    return torch.linalg.inv(_matrix("inv", x))


@op
def lu_factor(x):
    """LU factorisation with partial pivoting: `(lu, pivots)`, `lu` holding `L`
    (unit diagonal, below) and `U`; `pivots` are 0-based row swaps (int32), as
    in SciPy and Keras."""
    lu, pivots = torch.linalg.lu_factor(_matrix("lu_factor", x, square=False))
    return lu, (pivots - 1).to(torch.int32)


@op
def qr(x, mode: str = "reduced"):
    """QR decomposition `(q, r)`; `mode="reduced"` (q is `(m, min(m, n))`) or
    `"complete"` (q is `(m, m)`)."""
    if mode not in ("reduced", "complete"):
        raise ValueError(
            "ops.qr expects mode='reduced' or 'complete'. Expected one of "
            f"{{'reduced', 'complete'}}; got mode={mode!r}."
        )
    return torch.linalg.qr(_matrix("qr", x, square=False), mode=mode)


@op(output_spec=_square_and_rhs_spec("solve"))
def solve(a, b) -> Tensor:
    """`x` with `a @ x = b`, for square `a` and `b` a vector or matrix."""
    a, b = _matrix_and_rhs("solve", a, b)
    return torch.linalg.solve(a, b)


@op(output_spec=_square_and_rhs_spec("solve_triangular"))
def solve_triangular(a, b, lower: bool = False) -> Tensor:
    """`x` with `a @ x = b` for triangular `a` (upper unless `lower`); only
    that triangle of `a` is read."""
    a, b = _matrix_and_rhs("solve_triangular", a, b)
    if b.ndim == a.ndim - 1:
        x = torch.linalg.solve_triangular(a, b.unsqueeze(-1), upper=not lower)
        return x.squeeze(-1)
    return torch.linalg.solve_triangular(a, b, upper=not lower)


@op
def svd(x, full_matrices: bool = True, compute_uv: bool = True):
    """Singular value decomposition `(u, s, vh)` with `x = u diag(s) vh`
    (singular values descending); only `s` when `compute_uv=False`."""
    x = _matrix("svd", x, square=False)
    if not compute_uv:
        return torch.linalg.svdvals(x)
    return torch.linalg.svd(x, full_matrices=full_matrices)


@op
def lstsq(a, b, rcond=None) -> Tensor:
    """The least-squares solution `x` minimising `||a @ x - b||`; singular
    values below `rcond * max(s)` count as zero."""
    a, b = _matrix_and_rhs("lstsq", a, b)
    if rcond is None:
        return torch.linalg.lstsq(a, b).solution
    if a.device.type == "cpu":
        return torch.linalg.lstsq(a, b, rcond=rcond, driver="gelsd").solution
    # CUDA's lstsq driver has no rcond: go through the pseudo-inverse.
    return torch.linalg.pinv(a, rtol=rcond) @ b


@op
def matrix_rank(x, tol=None) -> Tensor:
    """The rank of matrices (int32): the number of singular values above `tol`
    (defaults to `max(m, n) * eps * max(s)`)."""
    rank = torch.linalg.matrix_rank(_matrix("matrix_rank", x, square=False), atol=tol)
    return rank.to(torch.int32)


@op
def pinv(x, rcond=None) -> Tensor:
    """Moore-Penrose pseudo-inverses; singular values below `rcond * max(s)`
    count as zero."""
    return torch.linalg.pinv(_matrix("pinv", x, square=False), rtol=rcond)


@op
def jvp(fun, primals, tangents, has_aux: bool = False):
    """Forward-mode Jacobian-vector product: `(fun(*primals), J @ tangents)`
    (and `fun`'s auxiliary output when `has_aux`), as `torch.func.jvp`.

    Example:
    >>> import torch
    >>> out, tangent = lamina.ops.jvp(lambda x: x * x, (torch.tensor(3.0),),
    ...                               (torch.tensor(1.0),))
    >>> float(out), float(tangent)
    (9.0, 6.0)
    """
    if not callable(fun):
        raise TypeError(f"ops.jvp expects a callable `fun`; got fun={fun!r}.")
    if not isinstance(primals, (tuple, list)) or not isinstance(
        tangents, (tuple, list)
    ):
        raise TypeError(
            "ops.jvp expects `primals` and `tangents` as tuples of tensors; got "
            f"{type(primals).__name__} and {type(tangents).__name__}."
        )
    primals = tuple(to_tensor(p) for p in primals)
    tangents = tuple(to_tensor(t, device=p.device) for t, p in zip(tangents, primals))
    with warnings.catch_warnings():
        # torch loads its forward-mode decompositions through torch.jit.script
        # on first use, which warns about the deprecation of jit (a
        # DeprecationWarning in torch 2.13, a FutureWarning in 2.14).
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated")
        return torch.func.jvp(fun, primals, tangents, has_aux=has_aux)


__all__ = [
    "cholesky",
    "cholesky_inverse",
    "det",
    "eig",
    "eigh",
    "inv",
    "jvp",
    "lstsq",
    "lu_factor",
    "matrix_rank",
    "norm",
    "pinv",
    "qr",
    "solve",
    "solve_triangular",
    "svd",
]
