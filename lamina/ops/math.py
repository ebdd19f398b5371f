"""Math ops (`keras.ops.math`): `erf`, `erfinv`, `logsumexp`, `top_k`,
`in_top_k`, `segment_sum`, `rsqrt`."""

import torch

from lamina.ops._utils import Tensor, check_axis, to_float, to_tensor
from lamina.ops.operation import op


@op
def erf(x) -> Tensor:
    """The Gauss error function; integers give floatx."""
    return torch.erf(to_float(to_tensor(x)))


@op
def erfinv(x) -> Tensor:
    """Inverse of `erf` on (-1, 1); integers give floatx."""
    return torch.erfinv(to_float(to_tensor(x)))


@op
def rsqrt(x) -> Tensor:
    """`1 / sqrt(x)`; integers give floatx."""
    return torch.rsqrt(to_float(to_tensor(x)))


@op
def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """`log(sum(exp(x)))` over `axis`, computed without overflow."""
    x = to_float(to_tensor(x))
    axis = check_axis("logsumexp", axis, x.ndim)
    if axis is None:
        axis = tuple(range(x.ndim))
    return torch.logsumexp(x, dim=axis, keepdim=keepdims)


@op
def top_k(x, k: int, sorted: bool = True):
    """The `k` largest values along the last axis and their int32 indices.

    Example:
    >>> values, indices = lamina.ops.top_k([1.0, 3.0, 2.0], 2)
    >>> values.tolist(), indices.tolist()
    ([3.0, 2.0], [1, 2])
    """
    x = to_tensor(x)
    if x.ndim == 0 or not 0 <= k <= x.shape[-1]:
        raise ValueError(
            f"ops.top_k expects 0 <= k <= the size of the last axis; got k={k!r} "
            f"for a tensor of shape {tuple(x.shape)}."
        )
    values, indices = torch.topk(x, k, dim=-1, sorted=sorted)
    return values, indices.to(torch.int32)


@op
def in_top_k(targets, predictions, k: int) -> Tensor:
    """Whether each `targets[i]` is among the `k` largest `predictions[i]`.

    Ties count as inside, as in Keras: a target whose score equals the k-th
    largest is in the top k.
    """
    predictions = to_tensor(predictions)
    targets = to_tensor(targets, device=predictions.device).to(torch.int64)
    if k >= predictions.shape[-1]:
        return torch.ones(targets.shape, dtype=torch.bool, device=predictions.device)
    kth_largest = torch.topk(predictions, k, dim=-1).values[..., -1:]
    target_scores = torch.take_along_dim(predictions, targets.unsqueeze(-1), dim=-1)
    return (target_scores >= kth_largest).squeeze(-1)


@op
def segment_sum(data, segment_ids, num_segments=None, sorted: bool = False) -> Tensor:
    """Sums of the rows of `data` that share a segment id.

    Row `i` of the result is the sum of `data[j]` over all `j` with
    `segment_ids[j] == i`; ids outside `[0, num_segments)` are dropped. Without
    `num_segments` it is `max(segment_ids) + 1`, which needs the ids on the host,
    so pass it inside training steps.
    """
    data = to_tensor(data)
    segment_ids = to_tensor(segment_ids, device=data.device).to(torch.int64)
    if segment_ids.ndim != 1 or segment_ids.shape[0] != data.shape[0]:
        raise ValueError(
            "ops.segment_sum expects 1-D `segment_ids` with one id per row of "
            f"`data`; got segment_ids of shape {tuple(segment_ids.shape)} for data "
            f"of shape {tuple(data.shape)}."
        )
    if num_segments is None:
        num_segments = int(segment_ids.max()) + 1 if segment_ids.numel() else 0
    # Out-of-range ids go to an extra bucket that is dropped: no host sync.
    valid = (segment_ids >= 0) & (segment_ids < num_segments)
    segment_ids = torch.where(valid, segment_ids, num_segments)
    out = torch.zeros(
        (num_segments + 1,) + tuple(data.shape[1:]),
        dtype=data.dtype,
        device=data.device,
    )
    return out.index_add_(0, segment_ids, data)[:num_segments]


__all__ = ["erf", "erfinv", "in_top_k", "logsumexp", "rsqrt", "segment_sum", "top_k"]
