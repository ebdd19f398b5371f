"""Ops whose results are positions: `nonzero`, `unique`, `searchsorted`,
`unravel_index`, `argpartition`.

`nonzero` and `unique` have data-dependent sizes, so they read the data back
to the host; keep them out of training steps. Index results are int32, as in
Keras.
"""

import operator

import torch

from lamina.backend.keras_tensor import KerasTensor
from lamina.backend.shape_inference import inferring
from lamina.ops._utils import Tensor, check_axis, shape_tuple, to_tensor
from lamina.ops.operation import op


def _check_not_symbolic(name) -> None:
    """Ops whose result size depends on the data have no symbolic shape."""
    if inferring():
        raise ValueError(
            f"ops.{name} returns a result whose size depends on the values of its "
            "input, so it cannot be used on symbolic tensors (Input(...) in a "
            "functional model). Call it eagerly on real tensors instead."
        )


def _nonzero_output_spec(x):
    """One int32 index vector of unknown length per axis, as in Keras."""
    if not isinstance(x, KerasTensor):
        return NotImplemented
    return tuple(KerasTensor((None,), dtype="int32") for _ in x.shape)


@op(output_spec=_nonzero_output_spec)
def nonzero(x) -> tuple:
    """Indices of the nonzero elements: one int32 1-D tensor per axis of `x`.

    Example:
    >>> [t.tolist() for t in lamina.ops.nonzero([[0, 3], [4, 0]])]
    [[0, 1], [1, 0]]
    """
    _check_not_symbolic("nonzero")
    x = to_tensor(x)
    return tuple(t.to(torch.int32) for t in torch.nonzero(x, as_tuple=True))


@op
def unravel_index(indices, shape) -> tuple:
    """Flat `indices` into a tensor of `shape` as one index tensor per axis."""
    indices = to_tensor(indices)
    if indices.is_floating_point() or indices.dtype == torch.bool:
        raise TypeError(
            f"ops.unravel_index expects integer indices; got dtype {indices.dtype}."
        )
    shape = shape_tuple("unravel_index", shape)
    return tuple(t.to(indices.dtype) for t in torch.unravel_index(indices, shape))


@op
def searchsorted(sorted_sequence, values, side: str = "left") -> Tensor:
    """Where `values` would go in the 1-D ascending `sorted_sequence` to keep it
    sorted, as int32 (`side="right"`: after equal entries)."""
    sequence = to_tensor(sorted_sequence)
    values = to_tensor(values, device=sequence.device)
    if sequence.ndim != 1:
        raise ValueError(
            "ops.searchsorted expects a 1-D `sorted_sequence`; got shape "
            f"{tuple(sequence.shape)}."
        )
    if side not in ("left", "right"):
        raise ValueError(
            f"ops.searchsorted expects side='left' or 'right'; got side={side!r}."
        )
    if values.dtype != sequence.dtype:
        dtype = torch.promote_types(values.dtype, sequence.dtype)
        sequence, values = sequence.to(dtype), values.to(dtype)
    return torch.searchsorted(sequence, values, side=side, out_int32=True)


@op
def argpartition(x, kth: int, axis=-1) -> Tensor:
    """Indices that partition `x` along `axis` around its `kth` element: the
    element that would sit at position `kth` when sorted is there, smaller
    ones before it and larger ones after (in no promised order). int32.

    `axis=None` partitions the flattened `x`.
    """
    x = to_tensor(x)
    try:
        kth = operator.index(kth)  # ints, NumPy ints, 0-d integer tensors
    except TypeError:
        raise ValueError(
            f"ops.argpartition expects `kth` to be an int (kth must be an "
            f"integer); got kth={kth!r}."
        ) from None
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = check_axis("argpartition", axis, x.ndim, allow_none=False)
    length = x.shape[axis]
    if not -length <= kth < length:
        raise ValueError(
            f"ops.argpartition got kth={kth}, out of range for an axis of size "
            f"{length}."
        )
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    # A full stable sort is a valid partition for every kth at once.
    return torch.argsort(x, dim=axis, stable=True).to(torch.int32)


def _unique_output_spec(
    x,
    sorted=True,
    return_index=False,
    return_inverse=False,
    return_counts=False,
    axis=None,
    size=None,
    fill_value=None,
):
    """Keras's shapes: `size` values (unknown without it) along `axis` (or a
    flat vector), inverse indices shaped as `x` (as `x`'s `axis`)."""
    if not isinstance(x, KerasTensor):
        return NotImplemented
    if axis is None:
        values = (size,)
        inverse = x.shape
    else:
        axis = check_axis("unique", axis, x.ndim, allow_none=False) % x.ndim
        values = x.shape[:axis] + (size,) + x.shape[axis + 1 :]
        inverse = (x.shape[axis],)
    outputs = [KerasTensor(values, dtype=x.dtype)]
    if return_index:
        outputs.append(KerasTensor((size,), dtype="int32"))
    if return_inverse:
        outputs.append(KerasTensor(inverse, dtype="int32"))
    if return_counts:
        outputs.append(KerasTensor((size,), dtype="int32"))
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


@op(output_spec=_unique_output_spec)
def unique(
    x,
    sorted: bool = True,
    return_index: bool = False,
    return_inverse: bool = False,
    return_counts: bool = False,
    axis=None,
    size=None,
    fill_value=None,
):
    """The distinct values of `x` (flattened, or the distinct slices along
    `axis`), in ascending order.

    Optionally also the index of each value's first occurrence, the inverse
    indices that rebuild `x`, and the counts (all int32), in that order. `size`
    truncates the result to a fixed length, or pads it: values with
    `fill_value` (default 0), counts with 0 and first-occurrence indices with
    1, as Keras does. With `size`, symbolic inputs are accepted (the output
    length is known); without it they are refused.
    """
    if size is None:
        _check_not_symbolic("unique")
    x = to_tensor(x)
    if axis is not None:
        axis = check_axis("unique", axis, x.ndim, allow_none=False) % x.ndim
    values, inverse, counts = torch.unique(
        x, sorted=True, return_inverse=True, return_counts=True, dim=axis
    )
    dim = 0 if axis is None else axis
    n = values.shape[dim]
    first = None
    if return_index:
        flat_inverse = inverse.reshape(-1)
        positions = torch.arange(flat_inverse.numel(), device=x.device)
        first = torch.full((n,), flat_inverse.numel(), device=x.device)
        first = first.scatter_reduce(0, flat_inverse, positions, reduce="amin")
    if size is not None:
        if n > size:
            values = values.narrow(dim, 0, size)
            counts = counts[:size]
            first = None if first is None else first[:size]
        elif n < size:
            fill = 0 if fill_value is None else fill_value
            pad_shape = list(values.shape)
            pad_shape[dim] = size - n
            padding = torch.empty(pad_shape, dtype=values.dtype, device=x.device)
            values = torch.cat([values, padding.fill_(fill)], dim=dim)
            counts = torch.cat([counts, counts.new_zeros(size - n)])
            if first is not None:
                first = torch.cat([first, first.new_ones(size - n)])
    outputs = [values]
    if return_index:
        outputs.append(first.to(torch.int32))
    if return_inverse:
        outputs.append(inverse.to(torch.int32))
    if return_counts:
        outputs.append(counts.to(torch.int32))
    return outputs[0] if len(outputs) == 1 else tuple(outputs)
