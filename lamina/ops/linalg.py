"""Linear-algebra ops (`keras.ops.linalg`): `norm`."""

import torch

from lamina.ops._utils import Tensor, check_axis, to_float, to_tensor
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


__all__ = ["norm"]
