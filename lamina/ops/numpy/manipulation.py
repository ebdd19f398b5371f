"""Shape and layout ops: reshape, transpose, join, split, index, pad, repeat."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from lamina.backend.dtypes import standardize_dtype
from lamina.backend.keras_tensor import KerasTensor, any_symbolic
from lamina.ops._utils import Tensor, check_axis, shape_tuple, to_tensor
from lamina.ops.operation import op


def _shape(x: Tensor) -> tuple:
    return tuple(x.shape)


def _reshape_output_spec(x, newshape):
    """Keras's symbolic rule where running the reshape on shape-only tensors
    cannot tell: a symbolic `newshape` (or symbolic entries) gives unknown
    sizes, and a `newshape` of known sizes is the answer whatever the unknown
    sizes of `x` turn out to be. Other calls go to shape inference."""
    if isinstance(newshape, (int, np.integer)) and not isinstance(newshape, bool):
        newshape = (int(newshape),)
    if isinstance(newshape, KerasTensor):
        if newshape.ndim != 1 or newshape.shape[0] is None:
            return NotImplemented
        dims = (None,) * newshape.shape[0]
    elif isinstance(newshape, (list, tuple)) and any_symbolic(newshape):
        dims = tuple(
            int(d) if isinstance(d, (int, np.integer)) and d >= 0 else None
            for d in newshape
        )
    elif (
        isinstance(x, KerasTensor)
        and None in x.shape
        and isinstance(newshape, (list, tuple))
        and all(isinstance(d, (int, np.integer)) and d >= 0 for d in newshape)
    ):
        dims = tuple(int(d) for d in newshape)
        known = math.prod(d for d in x.shape if d is not None)
        if known and math.prod(dims) % known:
            raise ValueError(
                f"ops.reshape cannot reshape a tensor of shape {x.shape} to "
                f"newshape={dims}: {math.prod(dims)} values are not a multiple "
                f"of the {known} values its known sizes hold."
            )
    else:
        return NotImplemented
    dtype = x.dtype if isinstance(x, KerasTensor) else to_tensor(x).dtype
    return KerasTensor(dims, dtype=standardize_dtype(dtype))


@op(output_spec=_reshape_output_spec)
def reshape(x, newshape) -> Tensor:
    """`x` with shape `newshape` (one entry may be -1, inferred)."""
    x = to_tensor(x)
    newshape = shape_tuple("reshape", newshape)
    if (
        any(d < -1 for d in newshape if isinstance(d, int))
        or list(newshape).count(-1) > 1
    ):
        raise ValueError(
            "ops.reshape expects each entry of `newshape` to be a non-negative "
            "integer, or -1 for the one inferred size (at most one unknown "
            f"dimension); got newshape={newshape}."
        )
    try:
        return torch.reshape(x, newshape)
    except RuntimeError as error:
        raise ValueError(
            f"ops.reshape cannot reshape a tensor of shape {_shape(x)} "
            f"({x.numel()} values) to newshape={newshape}; the sizes must "
            "multiply to the same number of values."
        ) from error


@op
def transpose(x, axes=None) -> Tensor:
    """`x` with its axes permuted by `axes` (default: reversed)."""
    x = to_tensor(x)
    if axes is None:
        return x.permute(tuple(range(x.ndim - 1, -1, -1)))
    given, axes = axes, tuple(axes)
    if any(isinstance(a, bool) or not -x.ndim <= a < x.ndim for a in axes):
        raise ValueError(
            f"ops.transpose: Each axis in `axes` must be an integer in "
            f"[{-x.ndim}, {x.ndim}) for a tensor of shape {_shape(x)}; got "
            f"axes={given!r}."
        )
    if len(axes) != x.ndim or len({a % max(x.ndim, 1) for a in axes}) != x.ndim:
        raise ValueError(
            f"ops.transpose expects `axes` to be a permutation of the {x.ndim} "
            f"axes of a tensor of shape {_shape(x)} (each axis once, a valid "
            f"permutation: `axes` must be a list of the same length as the input "
            f"shape); got axes={given!r}."
        )
    return x.permute(axes)


def _tensor_list(name, xs) -> list:
    if isinstance(xs, (Tensor, np.ndarray)) or not hasattr(xs, "__iter__"):
        raise TypeError(
            f"ops.{name} expects a list or tuple of tensors; got "
            f"{type(xs).__name__}. Wrap the tensors in a list: ops.{name}([a, b])."
        )
    xs = list(xs)
    if not xs:
        raise ValueError(f"ops.{name} needs at least one tensor; got an empty list.")
    device = next((x.device for x in xs if isinstance(x, Tensor)), None)
    return [to_tensor(x, device=device) for x in xs]


@op
def concatenate(xs, axis=0) -> Tensor:
    """Tensors joined along an existing `axis` (`None`: flattened first)."""
    xs = _tensor_list("concatenate", xs)
    if axis is None:
        return torch.cat([x.reshape(-1) for x in xs])
    check_axis("concatenate", axis, xs[0].ndim, allow_none=False)
    try:
        return torch.cat(xs, dim=axis)
    except RuntimeError as error:
        raise ValueError(
            f"ops.concatenate expects tensors whose shapes match except on "
            f"axis={axis}; got shapes {[_shape(x) for x in xs]}."
        ) from error


@op
def stack(x, axis=0) -> Tensor:
    """Tensors of one shape joined along a new `axis`."""
    xs = _tensor_list("stack", x)
    check_axis("stack", axis, xs[0].ndim + 1, False, "the result")
    try:
        return torch.stack(xs, dim=axis)
    except RuntimeError as error:
        raise ValueError(
            f"ops.stack expects tensors of one shape; got shapes "
            f"{[_shape(t) for t in xs]}."
        ) from error


@op
def expand_dims(x, axis) -> Tensor:
    """`x` with new size-1 axes inserted at `axis` (an int or a tuple)."""
    x = to_tensor(x)
    if type(axis) is int:
        check_axis("expand_dims", axis, x.ndim + 1, False, "the result")
        return torch.unsqueeze(x, axis)
    out_ndim = x.ndim + len(axis)
    axes = check_axis("expand_dims", axis, out_ndim, False, "the result")
    for a in sorted(a % out_ndim for a in axes):
        x = torch.unsqueeze(x, a)
    return x


def _squeeze_output_spec(x, axis=None):
    """Keras refuses to squeeze an axis of unknown size (it may not be 1); shape
    inference, which tries size 1 last, would accept it. The error names the
    symbolic shape, not a probe's. `axis=None` goes to shape inference."""
    if axis is None or not isinstance(x, KerasTensor):
        return NotImplemented
    axis = check_axis("squeeze", axis, x.ndim, allow_none=False)
    axes = (axis,) if type(axis) is int else axis
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(
                f"ops.squeeze cannot squeeze axis {a}, because the dimension is "
                f"not 1: it is {x.shape[a]} in shape {x.shape}."
            )
    return NotImplemented


@op(output_spec=_squeeze_output_spec)
def squeeze(x, axis=None) -> Tensor:
    """`x` without its size-1 axes (or only those in `axis`, which must be 1)."""
    x = to_tensor(x)
    if axis is None:
        return torch.squeeze(x)
    axis = check_axis("squeeze", axis, x.ndim, allow_none=False)
    axes = (axis,) if type(axis) is int else axis
    if any(x.shape[a] != 1 for a in axes):
        raise ValueError(
            f"ops.squeeze can only remove axes of size 1; got axis={axis!r} for "
            f"a tensor of shape {_shape(x)}."
        )
    return torch.squeeze(x, dim=axis)


@op
def broadcast_to(x, shape) -> Tensor:
    """A view of `x` broadcast to `shape`, NumPy rules."""
    x = to_tensor(x)
    shape = shape_tuple("broadcast_to", shape)
    try:
        return torch.broadcast_to(x, shape)
    except RuntimeError as error:
        raise ValueError(
            f"ops.broadcast_to cannot broadcast shape {_shape(x)} to {shape}."
        ) from error


@op
def tile(x, repeats) -> Tensor:
    """`x` repeated `repeats` times along each axis (NumPy `tile`)."""
    x = to_tensor(x)
    return torch.tile(x, shape_tuple("tile", repeats))


def _repeat_output_spec(x, repeats, axis=None):
    """Per-element `repeats` along an axis of unknown size: that size stays
    unknown (the probes' sizes cannot match the list's length). Other calls go
    to shape inference."""
    if not isinstance(x, KerasTensor) or not isinstance(
        repeats, (list, tuple, np.ndarray)
    ):
        return NotImplemented
    if axis is None:
        if None not in x.shape:
            return NotImplemented
        return KerasTensor((None,), dtype=x.dtype)
    axis = check_axis("repeat", axis, x.ndim, allow_none=False)
    if x.shape[axis] is not None:
        return NotImplemented
    return KerasTensor(x.shape, dtype=x.dtype)


@op(output_spec=_repeat_output_spec)
def repeat(x, repeats, axis=None) -> Tensor:
    """Each element repeated `repeats` times along `axis` (`None`: flattened)."""
    x = to_tensor(x)
    if axis is not None:
        check_axis("repeat", axis, x.ndim, allow_none=False)
    if not isinstance(repeats, int):
        repeats = to_tensor(repeats, device=x.device).to(torch.int64)
    return torch.repeat_interleave(x, repeats, dim=axis)


def _index_tensor(indices, device) -> Tensor:
    indices = to_tensor(indices, device=device)
    if indices.is_floating_point():
        indices = indices.to(torch.int64)
    return indices


@op
def take(x, indices, axis=None) -> Tensor:
    """Elements of `x` at `indices` along `axis` (`None`: of the flattened `x`).

    The result's shape is `x.shape[:axis] + indices.shape + x.shape[axis+1:]`;
    negative indices count from the end.
    """
    x = to_tensor(x)
    indices = _index_tensor(indices, x.device)
    if axis is None:
        return x.reshape(-1)[indices]
    axis = check_axis("take", axis, x.ndim, allow_none=False)
    return x[(slice(None),) * (axis % x.ndim) + (indices,)]


@op
def take_along_axis(x, indices, axis=None) -> Tensor:
    """Values of `x` at `indices` taken along `axis`, NumPy `take_along_axis`."""
    x = to_tensor(x)
    indices = _index_tensor(indices, x.device).to(torch.int64)
    if axis is None:
        x, indices, axis = x.reshape(-1), indices.reshape(-1), 0
    else:
        check_axis("take_along_axis", axis, x.ndim, allow_none=False)
    # NumPy allows negative indices; gather does not.
    indices = torch.where(indices < 0, indices + x.shape[axis], indices)
    return torch.take_along_dim(x, indices, dim=axis)


def split_output_spec(name, x, indices_or_sections, axis) -> list:
    """The pieces of `x` cut along an axis of unknown size at a list of indices,
    as Keras gives them: a piece between two known indices has their
    difference as its size, the last one (and any next to a negative index) an
    unknown size; the probes' small sizes would clip the pieces. Other calls
    (`NotImplemented`) go to shape inference."""
    if not isinstance(x, KerasTensor) or isinstance(
        indices_or_sections, (int, np.integer, KerasTensor)
    ):
        return NotImplemented
    axis = check_axis(name, axis, x.ndim, allow_none=False) % x.ndim
    if x.shape[axis] is not None:
        return NotImplemented
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    points = [int(i) for i in np.asarray(indices_or_sections).reshape(-1)]
    pieces = []
    for start, end in zip([0, *points], [*points, None]):
        shape = list(x.shape)
        if end is not None and start >= 0 and end >= 0:
            shape[axis] = max(end - start, 0)
        pieces.append(KerasTensor(tuple(shape), dtype=x.dtype))
    return pieces


def _split_output_spec(x, indices_or_sections, axis=0):
    return split_output_spec("split", x, indices_or_sections, axis)


@op(output_spec=_split_output_spec)
def split(x, indices_or_sections, axis=0) -> list:
    """`x` cut along `axis` into equal sections, or at the given indices."""
    x = to_tensor(x)
    check_axis("split", axis, x.ndim, allow_none=False)
    if isinstance(indices_or_sections, int):
        size = x.shape[axis]
        if indices_or_sections < 1 or size % indices_or_sections:
            raise ValueError(
                f"ops.split cannot cut axis {axis} of size {size} into "
                f"{indices_or_sections} equal sections; pass a divisor of {size} "
                "or a list of split indices."
            )
        return list(torch.tensor_split(x, indices_or_sections, dim=axis))
    return list(torch.tensor_split(x, [int(i) for i in indices_or_sections], dim=axis))


@op
def flip(x, axis=None) -> Tensor:
    """`x` with the order of elements reversed along `axis` (`None`: all)."""
    x = to_tensor(x)
    axis = check_axis("flip", axis, x.ndim)
    if axis is None:
        axis = tuple(range(x.ndim))
    elif type(axis) is int:
        axis = (axis,)
    return torch.flip(x, dims=axis)


@op
def roll(x, shift, axis=None) -> Tensor:
    """Elements shifted by `shift` along `axis`, wrapping around (`None`: flat)."""
    x = to_tensor(x)
    axis = check_axis("roll", axis, x.ndim)
    if axis is None:
        return torch.roll(x, shifts=shift)
    if isinstance(axis, tuple) and isinstance(shift, (int, np.integer)):
        shift = (int(shift),) * len(axis)  # NumPy: one shift for every axis
    return torch.roll(x, shifts=shift, dims=axis)


@op
def diag(x, k: int = 0) -> Tensor:
    """1-D input: a matrix with `x` on diagonal `k`. 2-D input: diagonal `k`."""
    x = to_tensor(x)
    if x.ndim not in (1, 2):
        raise ValueError(
            f"ops.diag expects a 1-D or 2-D tensor; got shape {_shape(x)}."
        )
    return torch.diag(x, k)


def _triangle(name, fn, x, k):
    x = to_tensor(x)
    if x.ndim < 2:
        raise ValueError(
            f"ops.{name} expects a tensor of rank >= 2; got shape {_shape(x)}."
        )
    return fn(x, diagonal=k)


@op
def tril(x, k: int = 0) -> Tensor:
    """`x` with elements above diagonal `k` of the last two axes set to zero."""
    return _triangle("tril", torch.tril, x, k)


@op
def triu(x, k: int = 0) -> Tensor:
    """`x` with elements below diagonal `k` of the last two axes set to zero."""
    return _triangle("triu", torch.triu, x, k)


@op
def meshgrid(*x, indexing: str = "xy") -> tuple:
    """Coordinate grids from 1-D tensors; `"xy"` (Cartesian) or `"ij"` (matrix).

    Tensors of other ranks are flattened first, as NumPy does.
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(
            f"ops.meshgrid expects indexing='xy' or 'ij'; got indexing={indexing!r}."
        )
    xs = [t.reshape(-1) for t in _tensor_list("meshgrid", x)]
    return torch.meshgrid(*xs, indexing=indexing)


# NumPy pad modes other than "constant", as index maps over positions -b..n+a-1.
def _edge(i, n):
    return np.clip(i, 0, n - 1)


def _reflect(i, n):
    if n == 1:
        return np.zeros_like(i)
    period = 2 * (n - 1)
    i = np.mod(i, period)
    return np.where(i < n, i, period - i)


def _symmetric(i, n):
    period = 2 * n
    i = np.mod(i, period)
    return np.where(i < n, i, period - 1 - i)


def _wrap(i, n):
    return np.mod(i, n)


_PAD_MODES = {
    "edge": _edge,
    "reflect": _reflect,
    "symmetric": _symmetric,
    "wrap": _wrap,
}


def _pad_pairs(pad_width, ndim) -> list:
    # NumPy broadcasting: an int, (before, after), ((b, a),) or one pair per axis.
    try:
        pairs = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (ndim, 2))
    except ValueError:
        pairs = None
    if pairs is None or (pairs < 0).any():
        raise ValueError(
            f"ops.pad expects `pad_width` as an int, a (before, after) pair or one "
            f"non-negative pair per axis ({ndim} here); got pad_width={pad_width!r}."
        )
    return [(int(b), int(a)) for b, a in pairs]


@op
def pad(x, pad_width, mode: str = "constant", constant_values=None) -> Tensor:
    """`x` padded by `pad_width` (per axis `(before, after)`), NumPy modes
    `"constant"` (with `constant_values`, default 0), `"edge"`, `"reflect"`,
    `"symmetric"` and `"wrap"`."""
    x = to_tensor(x)
    pairs = _pad_pairs(pad_width, x.ndim)
    if mode == "constant":
        flat = [p for pair in reversed(pairs) for p in pair]
        value = 0 if constant_values is None else constant_values
        return F.pad(x, flat, mode="constant", value=value)
    if mode not in _PAD_MODES:
        raise ValueError(
            f"ops.pad does not know mode={mode!r}; expected one of "
            f"{['constant', *_PAD_MODES]}."
        )
    if constant_values is not None:
        raise ValueError(
            "ops.pad takes `constant_values` only with mode='constant' (Argument "
            "`constant_values` can only be provided when `mode == 'constant'`); "
            f"got mode={mode!r} and constant_values={constant_values!r}."
        )
    for axis, (before, after) in enumerate(pairs):
        if before == after == 0:
            continue
        n = x.shape[axis]
        if n == 0:
            raise ValueError(f"ops.pad cannot pad an empty axis in mode={mode!r}.")
        index = _PAD_MODES[mode](np.arange(-before, n + after), n)
        x = torch.index_select(x, axis, torch.as_tensor(index, device=x.device))
    return x
