"""Core ops (`keras.ops.core`): dtype and shape queries, casts and conversions,
slices and scatters here; control flow in `lamina.ops.core.control_flow`.
"""

import builtins
import functools

import numpy as np
import torch

from lamina import backend
from lamina.backend.keras_tensor import KerasTensor, any_symbolic
from lamina.ops._utils import Tensor, to_tensor
from lamina.ops.core.control_flow import (
    associative_scan,
    cond,
    custom_gradient,
    fori_loop,
    map,
    scan,
    switch,
    vectorized_map,
    while_loop,
)
from lamina.ops.operation import op, static_op


@op
def cast(x, dtype) -> Tensor:
    """`x` as a tensor of `dtype` (a Keras dtype name or a torch dtype).

    Example:
    >>> lamina.ops.cast([1.7, -1.7], "int32").tolist()
    [1, -1]
    """
    return to_tensor(x).to(backend.to_torch_dtype(dtype))


@op
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None) -> Tensor:
    """`x` as a torch tensor on lamina's device, optionally cast to `dtype`.

    Python ints become int32 and Python floats floatx, as in Keras; tensors keep
    their dtype. NumPy float64 data becomes floatx (lamina's input policy, see
    `lamina.backend.convert_to_tensor`).
    `sparse` and `ragged` tensors do not exist in lamina; asking for them raises.
    """
    if sparse or ragged:
        raise ValueError(
            "ops.convert_to_tensor: lamina has no sparse or ragged tensors; got "
            f"sparse={sparse!r}, ragged={ragged!r}. Pass dense data and leave "
            "both unset."
        )
    if isinstance(x, Tensor):
        # Keras keeps a tensor's dtype (float64 included) and moves it to the device.
        torch_dtype = None if dtype is None else backend.to_torch_dtype(dtype)
        return x.to(device=backend.get_device(), dtype=torch_dtype)
    if dtype is not None and type(x) in (bool, int, float):
        # Made in `dtype` at once: exact for float64, and no float64 constant
        # for torch.export to capture on the way to float32.
        return backend.convert_to_tensor(x, dtype=dtype)
    x = to_tensor(x)
    return x if dtype is None else x.to(backend.to_torch_dtype(dtype))


@static_op
def convert_to_numpy(x) -> np.ndarray:
    """A NumPy copy of `x` on the host.

    Raises:
        ValueError: For a symbolic KerasTensor, which holds no values.
    """
    if isinstance(x, KerasTensor):
        raise ValueError(
            f"ops.convert_to_numpy cannot convert a symbolic tensor ({x!r}) to "
            "NumPy: it has a shape and dtype but no values. Call the model on "
            "data (model.predict) to get arrays."
        )
    return backend.convert_to_numpy(x)


@static_op
def is_tensor(x) -> bool:
    """Whether `x` is a torch tensor (a `torch.nn.Parameter` counts; a symbolic
    KerasTensor does not)."""
    return isinstance(x, Tensor)


@static_op
def shape(x) -> tuple:
    """The shape of `x` as a tuple of ints.

    On a symbolic tensor (a functional model's `Input` and what follows it) the
    shape is the static one, `None` for sizes unknown until the model runs (the
    batch size), as in Keras; nothing is added to the graph. Inside a layer's
    `call` the tensors are real, so the sizes are ints.

    Example:
    >>> lamina.ops.shape(lamina.ops.zeros((2, 3)))
    (2, 3)
    >>> lamina.ops.shape(lamina.Input((3,)))
    (None, 3)
    """
    if isinstance(x, Tensor):
        return tuple(x.shape)
    if isinstance(x, KerasTensor):
        return x.shape
    return tuple(np.shape(x))


@op
def dtype(x) -> str:
    """The Keras name of `x`'s dtype, e.g. `"float32"`."""
    if isinstance(x, Tensor):
        return backend.standardize_dtype(x.dtype)
    return backend.standardize_dtype(to_tensor(x).dtype)


@op
def stop_gradient(variable) -> Tensor:
    """`variable` cut out of the autograd graph (same values, no gradient)."""
    return to_tensor(variable).detach()


# Slices, scatters, casts


def _int_list(name: str, arg: str, values) -> list | None:
    """`values` as Python ints when they are known on the host, else None."""
    if isinstance(values, Tensor):
        return None
    if isinstance(values, (list, tuple)) and builtins.all(
        isinstance(v, (int, np.integer, torch.SymInt)) and not isinstance(v, bool)
        for v in values
    ):
        return [v if isinstance(v, torch.SymInt) else int(v) for v in values]
    if isinstance(values, (list, tuple)) and builtins.all(
        isinstance(v, (int, np.integer, Tensor)) and not isinstance(v, bool)
        for v in values
    ):
        return None  # some indices are scalar tensors (a loop counter)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return [int(v) for v in values.reshape(-1)]
    raise TypeError(
        f"ops.{name} expects `{arg}` to be a list of ints or an int tensor; got "
        f"{arg}={values!r}."
    )


def _match_phrase(arg: str) -> str:
    # Keras's wording, which its tests match, puts `shape` last.
    first, second = ("inputs", "shape") if arg == "shape" else (arg, "inputs")
    return (
        f"the number of dimensions in `{first}` must match the number of "
        f"dimensions in `{second}`"
    )


def _check_length(name: str, arg: str, count: int, x: Tensor):
    if count != x.ndim:
        raise ValueError(
            f"ops.{name} expects one entry of `{arg}` per axis of `inputs` "
            f"({x.ndim}): {_match_phrase(arg)}; got {count} for inputs of "
            f"shape {tuple(x.shape)}."
        )


def _slice_output_spec(inputs, start_indices, shape):
    """Keras's symbolic rule: after a symbolic start, a size of -1 (the rest
    of the axis) is unknown. Other calls go to shape inference."""
    sizes = _int_list("slice", "shape", shape)
    if not (any_symbolic(start_indices) and isinstance(inputs, KerasTensor)):
        return NotImplemented
    if sizes is None:
        return NotImplemented
    _check_length("slice", "shape", len(sizes), inputs)
    if isinstance(start_indices, KerasTensor):
        count = start_indices.shape[0] if start_indices.ndim == 1 else None
    else:
        count = len(start_indices)
    if count is not None:
        _check_length("slice", "start_indices", count, inputs)
    return KerasTensor(tuple(None if n == -1 else n for n in sizes), dtype=inputs.dtype)


@op(output_spec=_slice_output_spec)
def slice(inputs, start_indices, shape) -> Tensor:
    """The block of `inputs` that starts at `start_indices` (one index per
    axis) and has `shape`; a size of -1 takes the rest of that axis.

    Example:
    >>> lamina.ops.slice([[1, 2, 3], [4, 5, 6]], [1, 1], [1, 2]).tolist()
    [[5, 6]]
    """
    x = to_tensor(inputs)
    starts = _int_list("slice", "start_indices", start_indices)
    sizes = _int_list("slice", "shape", shape)
    if starts is not None and sizes is not None:
        _check_length("slice", "start_indices", len(starts), x)
        _check_length("slice", "shape", len(sizes), x)
        index = tuple(
            builtins.slice(s, None if n == -1 else s + n) for s, n in zip(starts, sizes)
        )
        return x[index]
    # Indices in tensors: torch.narrow takes them without a Python loop over data.
    if isinstance(start_indices, (list, tuple)):
        start_indices = [to_tensor(s, device=x.device) for s in start_indices]
    starts = to_tensor(start_indices, device=x.device).to(torch.int64)
    sizes = sizes if sizes is not None else to_tensor(shape).tolist()
    _check_length("slice", "start_indices", starts.shape[0], x)
    _check_length("slice", "shape", len(sizes), x)
    for axis in range(x.ndim):
        size = sizes[axis]
        if size == -1:  # the rest of the axis: its length is read on the host
            size = x.shape[axis] - int(starts[axis])
        x = torch.narrow(x, axis, starts[axis], size)
    return x


@op
def slice_update(inputs, start_indices, updates) -> Tensor:
    """A copy of `inputs` with the block at `start_indices` replaced by
    `updates` (cast to `inputs`' dtype)."""
    x = to_tensor(inputs)
    updates = to_tensor(updates, device=x.device).to(x.dtype)
    if updates.ndim != x.ndim:
        raise ValueError(
            "ops.slice_update expects `updates` of the same rank as `inputs`; got "
            f"updates of shape {tuple(updates.shape)} for inputs of shape "
            f"{tuple(x.shape)}."
        )
    out = x.clone()
    starts = _int_list("slice_update", "start_indices", start_indices)
    if starts is not None:
        _check_length("slice_update", "start_indices", len(starts), x)
        index = tuple(builtins.slice(s, s + n) for s, n in zip(starts, updates.shape))
        out[index] = updates
        return out
    starts = to_tensor(start_indices, device=x.device).to(torch.int64)
    grids = torch.meshgrid(
        *(
            torch.arange(n, device=x.device) + starts[axis]
            for axis, n in enumerate(updates.shape)
        ),
        indexing="ij",
    )
    return out.index_put_(tuple(g.reshape(-1) for g in grids), updates.reshape(-1))


def _index_rows(name: str, indices: Tensor, target_ndim: int) -> tuple:
    if indices.ndim < 1 or indices.shape[-1] > target_ndim:
        raise ValueError(
            f"ops.{name} expects `indices` of shape (..., k) with k <= {target_ndim} "
            f"(the rank of the target); got indices of shape {tuple(indices.shape)}."
        )
    return tuple(indices.to(torch.int64).reshape(-1, indices.shape[-1]).unbind(-1))


@op
def scatter(indices, values, shape) -> Tensor:
    """A zero tensor of `shape` with `values` added at `indices` (shape
    `(..., k)`: each row indexes the first `k` axes); repeated indices add up.

    Example:
    >>> lamina.ops.scatter([[1], [1]], [2.0, 3.0], (3,)).tolist()
    [0.0, 5.0, 0.0]
    """
    values = to_tensor(values)
    indices = to_tensor(indices, device=values.device)
    shape = tuple(
        int(d) for d in (shape.tolist() if isinstance(shape, Tensor) else shape)
    )
    index = _index_rows("scatter", indices, len(shape))
    values = values.reshape((-1,) + shape[indices.shape[-1] :])
    out = torch.zeros(shape, dtype=values.dtype, device=values.device)
    return out.index_put_(index, values, accumulate=True)


_REDUCE = {"max": "amax", "min": "amin", "mul": "prod"}


@op
def scatter_update(inputs, indices, updates, reduction=None) -> Tensor:
    """A copy of `inputs` with `updates` written at `indices` (shape `(n, k)`:
    each row indexes the first `k` axes). `reduction` combines instead of
    replacing: `"add"`, `"max"`, `"min"` or `"mul"`.

    Example:
    >>> lamina.ops.scatter_update([0, 0, 0], [[2]], [7]).tolist()
    [0, 0, 7]
    """
    x = to_tensor(inputs)
    indices = to_tensor(indices, device=x.device)
    updates = to_tensor(updates, device=x.device).to(x.dtype)
    index = _index_rows("scatter_update", indices, x.ndim)
    out = x.clone()
    if reduction is None:
        return out.index_put_(index, updates)
    if reduction == "add":
        return out.index_put_(index, updates, accumulate=True)
    if reduction not in _REDUCE:
        raise ValueError(
            "ops.scatter_update expects reduction=None, 'add', 'max', 'min' or "
            f"'mul'; got reduction={reduction!r}."
        )
    # Flatten the indexed axes so one scatter_reduce_ over rows does it.
    k = indices.shape[-1]
    lead = x.shape[:k]
    flat_index = torch.zeros_like(index[0])
    for axis, rows in enumerate(index):
        flat_index = flat_index * lead[axis] + rows
    flat = out.reshape((-1,) + tuple(x.shape[k:]))
    src = updates.reshape((-1,) + tuple(x.shape[k:]))
    expanded = flat_index.reshape((-1,) + (1,) * (flat.ndim - 1)).expand_as(src)
    flat.scatter_reduce_(0, expanded, src, _REDUCE[reduction], include_self=True)
    return out


def _unstack_count_known(op_fn):
    """Symbolic `x`: the number of outputs is `num` or the size of `axis`, so
    one of them must be known (as Keras requires)."""

    @functools.wraps(op_fn)
    def unstack(x, num=None, axis=0):
        if (
            num is None
            and isinstance(x, KerasTensor)
            and isinstance(axis, int)
            and -x.ndim <= axis < x.ndim
            and x.shape[axis] is None
        ):
            raise ValueError(
                f"ops.unstack: Cannot infer argument `num` from shape {x.shape}: "
                f"axis {axis} has an unknown size. Pass `num`."
            )
        return op_fn(x, num=num, axis=axis)

    unstack.__wrapped__ = op_fn.__wrapped__
    return unstack


@_unstack_count_known
@op
def unstack(x, num=None, axis: int = 0) -> list:
    """The slices of `x` along `axis`, as a list of tensors."""
    x = to_tensor(x)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"ops.unstack: axis {axis} is out of bounds for `x` of rank {x.ndim} "
            f"(shape {tuple(x.shape)})."
        )
    if num is not None and num != x.shape[axis]:
        from lamina.backend.shape_inference import inferring

        if inferring():
            # Shape inference probes an unknown size with a stand-in value:
            # `num` outputs of the slice's shape.
            return [x.select(axis, 0)] * num
        raise ValueError(
            f"ops.unstack got num={num!r}, but axis {axis} of `x` has size "
            f"{x.shape[axis]} (shape {tuple(x.shape)})."
        )
    return list(torch.unbind(x, dim=axis))


def _limits(dtype: torch.dtype):
    if dtype == torch.bool:
        return 0, 1
    info = torch.finfo(dtype) if dtype.is_floating_point else torch.iinfo(dtype)
    return info.min, info.max


@op
def saturate_cast(x, dtype) -> Tensor:
    """`x` cast to `dtype` after clipping to the values `dtype` can hold, so
    out-of-range values saturate instead of wrapping around.

    Example:
    >>> lamina.ops.saturate_cast([-5.0, 300.0], "uint8").tolist()
    [0, 255]
    """
    x = to_tensor(x)
    target = backend.to_torch_dtype(dtype)
    in_min, in_max = _limits(x.dtype)
    out_min, out_max = _limits(target)
    # The target's limits may round outside its range in x's dtype (float32
    # has no 2**31 - 1): step them back toward zero, as Keras does.
    low = torch.tensor(builtins.max(in_min, out_min), dtype=x.dtype)
    if low.item() < out_min:
        low = torch.nextafter(low, torch.zeros_like(low))
    high = torch.tensor(builtins.min(in_max, out_max), dtype=x.dtype)
    if high.item() > out_max:
        high = torch.nextafter(high, torch.zeros_like(high))
    if x.dtype == torch.bool:
        return x.to(target)
    return torch.clamp(x, low.item(), high.item()).to(target)


__all__ = [
    "associative_scan",
    "cond",
    "custom_gradient",
    "fori_loop",
    "map",
    "saturate_cast",
    "scan",
    "scatter",
    "scatter_update",
    "slice",
    "slice_update",
    "switch",
    "unstack",
    "vectorized_map",
    "while_loop",
    "cast",
    "convert_to_numpy",
    "convert_to_tensor",
    "dtype",
    "is_tensor",
    "shape",
    "stop_gradient",
]
