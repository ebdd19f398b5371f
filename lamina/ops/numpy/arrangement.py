"""More shape and layout ops: axis moves, flips, rotations, diagonals,
differences, stacking and splitting by direction (`hstack`, `vsplit`, ...),
and the small queries and copies (`ndim`, `size`, `copy`, `view`, `get_item`).
"""

import numpy as np
import torch

from lamina.backend import to_torch_dtype
from lamina.backend.keras_tensor import KerasTensor
from lamina.ops._utils import Tensor, check_axis, to_tensor
from lamina.ops.numpy.manipulation import _tensor_list, split_output_spec
from lamina.ops.operation import op


def _shape(x: Tensor) -> tuple:
    return tuple(x.shape)


def _need_rank(name, x: Tensor, rank: int) -> None:
    if x.ndim < rank:
        raise ValueError(
            f"ops.{name} expects a tensor of rank >= {rank}; got shape {_shape(x)}."
        )


# 1. Moving, flipping and rotating axes


@op
def moveaxis(x, source, destination) -> Tensor:
    """`x` with the axes `source` moved to positions `destination` (ints or
    tuples of one length); the other axes keep their order."""
    x = to_tensor(x)
    source = check_axis("moveaxis", source, x.ndim, allow_none=False)
    destination = check_axis("moveaxis", destination, x.ndim, allow_none=False)
    if isinstance(source, tuple) != isinstance(destination, tuple) or (
        isinstance(source, tuple) and len(source) != len(destination)
    ):
        raise ValueError(
            "ops.moveaxis expects `source` and `destination` with the same number "
            f"of axes; got source={source!r}, destination={destination!r}."
        )
    return torch.movedim(x, source, destination)


@op
def swapaxes(x, axis1: int, axis2: int) -> Tensor:
    """`x` with axes `axis1` and `axis2` exchanged."""
    x = to_tensor(x)
    check_axis("swapaxes", axis1, x.ndim, allow_none=False)
    check_axis("swapaxes", axis2, x.ndim, allow_none=False)
    return torch.swapaxes(x, axis1, axis2)


@op
def ravel(x) -> Tensor:
    """`x` flattened to 1-D, in row-major order."""
    return torch.ravel(to_tensor(x))


@op
def fliplr(x) -> Tensor:
    """`x` reversed along axis 1 (left/right); needs rank >= 2."""
    x = to_tensor(x)
    _need_rank("fliplr", x, 2)
    return torch.flip(x, dims=(1,))


@op
def flipud(x) -> Tensor:
    """`x` reversed along axis 0 (up/down); needs rank >= 1."""
    x = to_tensor(x)
    _need_rank("flipud", x, 1)
    return torch.flip(x, dims=(0,))


@op
def rot90(array, k: int = 1, axes=(0, 1)) -> Tensor:
    """`array` rotated by `k` quarter turns in the plane of `axes`, from the
    first axis towards the second."""
    x = to_tensor(array)
    _need_rank("rot90", x, 2)
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError(f"ops.rot90 expects two axes; got axes={axes!r}.")
    check_axis("rot90", axes, x.ndim, allow_none=False)
    return torch.rot90(x, k=k, dims=axes)


# 2. Diagonals and differences


@op
def diagonal(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """Diagonal `offset` of the 2-D slices over `axis1` and `axis2`, as the
    last axis of the result."""
    x = to_tensor(x)
    _need_rank("diagonal", x, 2)
    check_axis("diagonal", (axis1, axis2), x.ndim, allow_none=False)
    return torch.diagonal(x, offset=offset, dim1=axis1, dim2=axis2)


@op
def diagflat(x, k: int = 0) -> Tensor:
    """A square matrix with the flattened `x` on diagonal `k`."""
    return torch.diagflat(to_tensor(x), offset=k)


@op
def diff(a, n: int = 1, axis: int = -1) -> Tensor:
    """The `n`-th discrete difference `a[i+1] - a[i]` along `axis`."""
    x = to_tensor(a)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"ops.diff expects `n` to be an int >= 0; got n={n!r}.")
    _need_rank("diff", x, 1)
    check_axis("diff", axis, x.ndim, allow_none=False)
    if n == 0:
        return x
    return torch.diff(x, n=n, dim=axis)


# 3. Joining and splitting


@op
def append(x1, x2, axis=None) -> Tensor:
    """`x2` joined after `x1` along `axis` (`None`: both flattened first)."""
    x1, x2 = _tensor_list("append", [x1, x2])
    if axis is None:
        return torch.cat([x1.reshape(-1), x2.reshape(-1)])
    check_axis("append", axis, x1.ndim, allow_none=False)
    try:
        return torch.cat([x1, x2], dim=axis)
    except RuntimeError as error:
        raise ValueError(
            f"ops.append expects shapes that match except on axis={axis}; got "
            f"{_shape(x1)} and {_shape(x2)}."
        ) from error


def _join(name, fn, xs) -> Tensor:
    xs = _tensor_list(name, xs)
    try:
        return fn(xs)
    except RuntimeError as error:
        raise ValueError(
            f"ops.{name} got tensors whose shapes do not fit together: "
            f"{[_shape(x) for x in xs]}."
        ) from error


@op
def hstack(xs) -> Tensor:
    """Tensors joined along axis 1 (axis 0 for 1-D tensors)."""
    return _join("hstack", torch.hstack, xs)


@op
def vstack(xs) -> Tensor:
    """Tensors joined along axis 0, 1-D tensors first made rows."""
    return _join("vstack", torch.vstack, xs)


@op
def dstack(xs) -> Tensor:
    """Tensors joined along axis 2, after making them at least 3-D."""
    return _join("dstack", torch.dstack, xs)


def _split_points(indices_or_sections):
    if isinstance(indices_or_sections, (int, np.integer)):
        return int(indices_or_sections)
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    return [int(i) for i in indices_or_sections]


def _array_split_output_spec(x, indices_or_sections, axis=0):
    """`n` sections of an axis of unknown size: each has an unknown size there
    (the probes' sizes could make some look fixed); at a list of indices, the
    pieces `split` gives. Other calls go to shape inference."""
    if isinstance(x, KerasTensor) and not isinstance(
        indices_or_sections, (int, np.integer, KerasTensor)
    ):
        return split_output_spec("array_split", x, indices_or_sections, axis)
    if not (
        isinstance(x, KerasTensor)
        and isinstance(indices_or_sections, (int, np.integer))
        and indices_or_sections >= 1
    ):
        return NotImplemented
    axis = check_axis("array_split", axis, x.ndim, allow_none=False) % x.ndim
    if x.shape[axis] is not None:
        return NotImplemented
    return [KerasTensor(x.shape, dtype=x.dtype) for _ in range(indices_or_sections)]


@op(output_spec=_array_split_output_spec)
def array_split(x, indices_or_sections, axis: int = 0) -> list:
    """`x` cut along `axis` into `n` nearly equal parts (the first ones one
    longer when the size does not divide), or at the given indices."""
    x = to_tensor(x)
    check_axis("array_split", axis, x.ndim, allow_none=False)
    points = _split_points(indices_or_sections)
    if isinstance(points, int) and points < 1:
        raise ValueError(
            f"ops.array_split expects a positive number of sections; got {points}."
        )
    return list(torch.tensor_split(x, points, dim=axis))


def _directional_split(name, axis, min_rank, x, indices_or_sections) -> list:
    x = to_tensor(x)
    _need_rank(name, x, min_rank)
    if x.ndim == 1 and name == "hsplit":
        axis = 0
    points = _split_points(indices_or_sections)
    if isinstance(points, int) and (points < 1 or x.shape[axis] % points):
        raise ValueError(
            f"ops.{name} cannot cut axis {axis} of size {x.shape[axis]} into "
            f"{points} equal sections; pass a divisor of {x.shape[axis]} or a list "
            "of split indices (or use ops.array_split)."
        )
    return list(torch.tensor_split(x, points, dim=axis))


def _directional_split_spec(name, axis, min_rank, x, indices_or_sections):
    if not isinstance(x, KerasTensor) or x.ndim < min_rank:
        return NotImplemented
    axis = 0 if x.ndim == 1 else axis
    return split_output_spec(name, x, indices_or_sections, axis)


def _hsplit_output_spec(x, indices_or_sections):
    return _directional_split_spec("hsplit", 1, 1, x, indices_or_sections)


def _vsplit_output_spec(x, indices_or_sections):
    return _directional_split_spec("vsplit", 0, 2, x, indices_or_sections)


def _dsplit_output_spec(x, indices_or_sections):
    return _directional_split_spec("dsplit", 2, 3, x, indices_or_sections)


@op(output_spec=_hsplit_output_spec)
def hsplit(x, indices_or_sections) -> list:
    """`split` along axis 1 (axis 0 for 1-D tensors)."""
    return _directional_split("hsplit", 1, 1, x, indices_or_sections)


@op(output_spec=_vsplit_output_spec)
def vsplit(x, indices_or_sections) -> list:
    """`split` along axis 0; needs rank >= 2."""
    return _directional_split("vsplit", 0, 2, x, indices_or_sections)


@op(output_spec=_dsplit_output_spec)
def dsplit(x, indices_or_sections) -> list:
    """`split` along axis 2; needs rank >= 3."""
    return _directional_split("dsplit", 2, 3, x, indices_or_sections)


# 4. Small queries, copies and indexing


@op
def ndim(x) -> int:
    """Number of axes of `x`, as a Python int."""
    return to_tensor(x).ndim


@op
def size(x) -> Tensor:
    """Number of elements of `x`, as a 0-d int32 tensor (Keras's dtype)."""
    x = to_tensor(x)
    return torch.tensor(x.numel(), dtype=torch.int32, device=x.device)


@op
def copy(x) -> Tensor:
    """A new tensor with `x`'s values (changes to one do not touch the other)."""
    return torch.clone(to_tensor(x))


@op
def view(x, dtype=None) -> Tensor:
    """The bytes of `x` reinterpreted as `dtype` (no copy); the last axis is
    rescaled when the item sizes differ. `None` keeps the dtype."""
    x = to_tensor(x)
    if dtype is None:
        return x.view(x.dtype)
    dtype = to_torch_dtype(dtype)
    try:
        return x.view(dtype)
    except RuntimeError as error:
        raise ValueError(
            f"ops.view cannot view a {x.dtype} tensor of shape {_shape(x)} as "
            f"{dtype}: {error}"
        ) from error


def _key(key, device):
    if isinstance(key, list) and any(
        k is None or k is Ellipsis or isinstance(k, slice) for k in key
    ):
        key = tuple(key)  # a tuple index that went through a JSON config
    if isinstance(key, tuple):
        return tuple(_key(k, device) for k in key)
    if isinstance(key, (np.ndarray, list)):
        return to_tensor(key, device=device)
    return key


@op
def get_item(x, key):
    """`x[key]`: NumPy indexing with ints, slices, `None`, `...`, boolean masks
    and integer index tensors."""
    x = to_tensor(x)
    if isinstance(key, (tuple, list)) and sum(k is Ellipsis for k in key) > 1:
        # torch takes several and uses the first; NumPy and Keras refuse.
        raise IndexError(
            "ops.get_item: an index can only have a single ellipsis ('...'); "
            f"got key={key!r}."
        )
    return x[_key(key, x.device)]


@op
def select(condlist, choicelist, default=0) -> Tensor:
    """Per element, the entry of the first `choicelist[i]` whose `condlist[i]`
    holds, else `default`; all of them broadcast together.

    Example:
    >>> x = lamina.ops.arange(4)
    >>> lamina.ops.select([x < 1, x > 2], [x, x * 10], default=-1).tolist()
    [0, -1, -1, 30]
    """
    if not isinstance(condlist, (list, tuple)) or not isinstance(
        choicelist, (list, tuple)
    ):
        raise TypeError(
            "ops.select expects `condlist` and `choicelist` to be lists of tensors; "
            f"got {type(condlist).__name__} and {type(choicelist).__name__}."
        )
    if len(condlist) != len(choicelist) or not condlist:
        raise ValueError(
            "ops.select expects non-empty `condlist` and `choicelist` of one "
            f"length; got {len(condlist)} conditions and {len(choicelist)} choices."
        )
    device = next(
        (x.device for x in (*condlist, *choicelist) if isinstance(x, Tensor)), None
    )
    conditions = [to_tensor(c, device=device) for c in condlist]
    choices = [to_tensor(c, device=device) for c in choicelist]
    out = to_tensor(default, device=device)
    for condition, choice in zip(reversed(conditions), reversed(choices)):
        if condition.dtype != torch.bool:
            condition = condition != 0
        out = torch.where(condition, choice, out)
    return out
