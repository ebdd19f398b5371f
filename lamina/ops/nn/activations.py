"""More activations of `keras.ops.nn`: shrinkages, hard (piecewise-linear)
variants, sparse ones, `glu`, `sparsemax`, `squareplus`, `threshold`.

As with the activations in `lamina.ops.nn`, integer inputs compute in floatx.
"""

import torch
import torch.nn.functional as F

from lamina.ops._utils import Tensor, check_axis, to_float, to_tensor
from lamina.ops.operation import op


def _float(x) -> Tensor:
    return to_float(to_tensor(x))


@op
def celu(x, alpha: float = 1.0) -> Tensor:
    """`max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))`."""
    return F.celu(_float(x), alpha=alpha)


@op
def glu(x, axis: int = -1) -> Tensor:
    """Gated linear unit: `a * sigmoid(b)`, where `a` and `b` are the first and
    second halves of `x` along `axis` (whose size must be even)."""
    x = _float(x)
    check_axis("glu", axis, x.ndim, allow_none=False)
    if x.shape[axis] % 2:
        raise ValueError(
            f"ops.glu splits `x` in two halves along axis={axis}, which needs an "
            f"even size there; got shape {tuple(x.shape)}."
        )
    return F.glu(x, dim=axis)


@op
def hard_shrink(x, threshold: float = 0.5) -> Tensor:
    """`x` where `|x| > threshold`, else 0."""
    return F.hardshrink(_float(x), lambd=threshold)


@op
def hard_sigmoid(x) -> Tensor:
    """`relu6(x + 3) / 6`: a piecewise-linear sigmoid."""
    return F.hardsigmoid(_float(x))


@op
def hard_silu(x) -> Tensor:
    """`x * relu6(x + 3) / 6` (also called hard swish)."""
    return F.hardswish(_float(x))


@op
def hard_swish(x) -> Tensor:
    """`x * relu6(x + 3) / 6`: the same function as `hard_silu`, under Keras's
    other name."""
    return F.hardswish(_float(x))


@op
def hard_tanh(x) -> Tensor:
    """`x` clipped to `[-1, 1]`; integer inputs keep their dtype, as in Keras."""
    x = to_tensor(x)
    if x.is_floating_point() or x.dtype is torch.bool:
        return F.hardtanh(to_float(x), min_val=-1.0, max_val=1.0)
    return torch.clamp(x, None if x.dtype is torch.uint8 else -1, 1)


@op
def log_sigmoid(x) -> Tensor:
    """`log(sigmoid(x))`, computed without overflow (`-softplus(-x)`)."""
    return F.logsigmoid(_float(x))


@op
def soft_shrink(x, threshold: float = 0.5) -> Tensor:
    """`x - threshold` above `threshold`, `x + threshold` below `-threshold`,
    else 0."""
    return F.softshrink(_float(x), lambd=threshold)


@op
def softsign(x) -> Tensor:
    """`x / (|x| + 1)`."""
    return F.softsign(_float(x))


@op
def sparse_plus(x) -> Tensor:
    """0 for `x <= -1`, `x` for `x >= 1`, `(x + 1)^2 / 4` between: a softplus
    with a compact curved part."""
    x = _float(x)
    return torch.where(
        x <= -1, torch.zeros_like(x), torch.where(x < 1, 0.25 * (x + 1) ** 2, x)
    )


@op
def sparse_sigmoid(x) -> Tensor:
    """0 for `x <= -1`, 1 for `x >= 1`, `(x + 1) / 2` between."""
    return torch.clamp(0.5 * (_float(x) + 1), 0.0, 1.0)


@op
def sparsemax(x, axis: int = -1) -> Tensor:
    """Euclidean projection of `x` onto the probability simplex along `axis`
    (Martins & Astudillo 2016): like softmax, but with exact zeros.

    Example:
    >>> lamina.ops.sparsemax([1.0, 1.0, -2.0]).tolist()
    [0.5, 0.5, 0.0]
    """
    x = _float(x)
    check_axis("sparsemax", axis, x.ndim, allow_none=False)
    # The support is the k largest entries with 1 + k z_(k) > sum_{j<=k} z_(j).
    z = torch.sort(x, dim=axis, descending=True).values
    cumsum = torch.cumsum(z, dim=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    k = torch.arange(1, x.shape[axis] + 1, device=x.device, dtype=x.dtype).view(shape)
    support = (1 + k * z) > cumsum
    size = torch.sum(support, dim=axis, keepdim=True)
    tau = (torch.sum(torch.where(support, z, 0.0), dim=axis, keepdim=True) - 1) / size
    return torch.clamp(x - tau, min=0.0)


@op
def squareplus(x, b: float = 4) -> Tensor:
    """`(x + sqrt(x^2 + b)) / 2`, a smooth ReLU (`b >= 0`)."""
    x = _float(x)
    return (x + torch.sqrt(x * x + b)) / 2


@op
def tanh_shrink(x) -> Tensor:
    """`x - tanh(x)`."""
    return F.tanhshrink(_float(x))


@op
def threshold(x, threshold, default_value) -> Tensor:
    """`x` where `x > threshold`, else `default_value`."""
    return F.threshold(_float(x), threshold=threshold, value=default_value)


__all__ = [
    "celu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "log_sigmoid",
    "soft_shrink",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "tanh_shrink",
    "threshold",
]
