"""Shared helpers of the data adapters: unpacking, validation, class weights."""

import math

import numpy as np
import torch

from lamina import backend, tree
from lamina.backend.dtypes import is_string_array
from lamina.backend.tensors import NotNumbersError


def unpack_x_y_sample_weight(data):
    """`(x,)`, `(x, y)` or `(x, y, sample_weight)` -> a 3-tuple, Nones filled in."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(
        "Each batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple "
        f"of {len(data)} items."
    )


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """`(x, y, sample_weight)` without the trailing Nones; a lone `x` that is
    not a tuple or list comes back unwrapped, as in Keras (so a custom
    `train_step` fitted on `x` alone gets `data = x`)."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def convert_batch(batch):
    """A user batch (`x`, `(x, y)` or `(x, y, sample_weight)`) as device tensors,
    in the same packing (Keras passes `data` to train_step as the user gave it)."""
    x, y, sample_weight = unpack_x_y_sample_weight(batch)
    device = backend.get_device()
    keep_float32 = backend.floatx() == "float32"
    return pack_x_y_sample_weight(
        _batch_part(x, "x", device, keep_float32),
        _batch_part(y, "y", device, keep_float32),
        _batch_part(sample_weight, "sample_weight", device, keep_float32),
    )


# NumPy dtypes that `convert_to_tensor` keeps (float32 too when floatx is).
_KEPT_NUMPY_DTYPES = frozenset(
    np.dtype(name)
    for name in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16")
)


def _batch_part(value, what, device, keep_float32):
    """`to_device_tensors` for one part of a batch, with a fast path for what
    loaders yield every step: a tensor already on `device` comes back as it
    is, a ready CPU NumPy array as `torch.from_numpy` (no copy), as
    `convert_to_tensor` would give them; anything else takes the full path.
    Measured (timeit, CPU): 22 -> 4 us per `(x, y)` batch of tensors, 46 -> 13
    us per batch of NumPy arrays; see bench/bench_pipelines.py."""
    kind = type(value)
    if kind is torch.Tensor:
        if value.device == device and value.dtype is not torch.float64:
            return value
    elif kind is np.ndarray:
        if (
            device.type == "cpu"
            and value.flags.c_contiguous
            and value.flags.writeable
            and (
                value.dtype in _KEPT_NUMPY_DTYPES
                or (keep_float32 and value.dtype == np.float32)
            )
        ):
            return torch.from_numpy(value)
    elif kind is dict:
        return {k: _batch_part(v, what, device, keep_float32) for k, v in value.items()}
    elif kind is tuple or kind is list:
        return kind(_batch_part(v, what, device, keep_float32) for v in value)
    elif value is None:
        return None
    return to_device_tensors(value, what)


def is_array_like(x) -> bool:
    """NumPy arrays, torch tensors, pandas objects, and nests of them."""
    if x is None:
        return True
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return True
    if hasattr(x, "to_numpy") and hasattr(x, "shape"):
        return True
    if isinstance(x, (list, tuple)):
        # None stands for an optional input (`fit([x, None], y)`, as Keras).
        flat = tree.flatten(x)
        return any(v is not None for v in flat) and all(
            v is None
            or isinstance(v, (np.ndarray, torch.Tensor))
            or hasattr(v, "to_numpy")
            for v in flat
        )
    if isinstance(x, dict):
        return all(is_array_like(v) for v in x.values())
    return False


def _text_columns(frame) -> str:
    """For an error about a pandas DataFrame: which of its columns hold no
    numbers (Keras names the string it could not convert to float)."""
    dtypes = getattr(frame, "dtypes", None)
    if not hasattr(dtypes, "items"):
        return ""
    bad = [str(name) for name, dtype in dtypes.items() if dtype.kind not in "biuf"]
    if not bad:
        return ""
    return (
        f" The DataFrame's columns {bad} hold no numbers: encode them (e.g. "
        "pd.get_dummies or a StringLookup layer) or drop them."
    )


def to_device_tensors(structure, what: str):
    """Convert every leaf to a device tensor, checking types once, where data enters."""

    def _convert(value):
        if value is None:
            return None
        if is_string_array(value):
            # Text stays in NumPy for the layers that turn it into numbers.
            return value.astype(str) if value.dtype == object else value
        try:
            return backend.convert_to_tensor(value)
        except (TypeError, ValueError) as error:
            raise NotNumbersError(
                f"{what} must hold numbers (NumPy arrays, torch tensors, pandas "
                f"objects); could not convert a {type(value).__name__}: {error}"
                f"{columns}"
            ) from None

    columns = ""
    if hasattr(structure, "to_numpy") and not isinstance(structure, np.ndarray):
        columns = _text_columns(structure)
        structure = structure.to_numpy()
    return tree.map_structure(_convert, structure)


def check_no_nan(structure, what: str) -> None:
    """Raise if float inputs contain NaN: training on them silently gives NaN."""
    for leaf in tree.flatten(structure):
        if isinstance(leaf, torch.Tensor) and leaf.is_floating_point():
            # One reduction finds whether a NaN may be present (NaN propagates
            # through the sum); only then is the element-wise check paid for.
            if leaf.numel() == 0 or not bool(torch.isnan(leaf.sum())):
                continue
            bad = torch.isnan(leaf)
            if bool(bad.any()):
                rows = torch.nonzero(bad.reshape(bad.shape[0], -1).any(dim=1))
                first = rows[:5, 0].tolist()
                raise ValueError(
                    f"{what} contains NaN values in {int(rows.shape[0])} of "
                    f"{leaf.shape[0]} samples (first rows: {first}). Remove or "
                    "impute them (e.g. np.nan_to_num or pandas fillna) before fit."
                )


def num_samples(structure, what: str) -> int:
    leaves = [leaf for leaf in tree.flatten(structure) if leaf is not None]
    try:
        sizes = {int(leaf.shape[0]) for leaf in leaves}
    except IndexError:  # a scalar leaf: a Python list of numbers, most often
        raise ValueError(
            f"Unrecognized data type: {what} holds single numbers where arrays "
            "of samples were expected (a Python list is read as one array per "
            "model input or output). Pass a NumPy array instead, e.g. "
            f"np.asarray({what})."
        ) from None
    if len(sizes) > 1:
        raise ValueError(
            f"All arrays in {what} must have the same number of samples (first "
            f"axis); got sizes {sorted(sizes)}."
        )
    return sizes.pop() if sizes else 0


def class_weight_to_sample_weights(y, class_weight_tensor):
    """Per-sample weights from a class-weight lookup table, on the device.

    The table is `make_class_weight_tensor`'s; Keras's own form, a dict
    `{class: weight}` (with labels as arrays or tensors), is taken too."""
    if not isinstance(class_weight_tensor, torch.Tensor):
        y = torch.as_tensor(y)
        if not class_weight_tensor:  # Keras: no class listed, every weight 1
            return torch.ones(y.shape[0])
        class_weight_tensor = make_class_weight_tensor(class_weight_tensor, y.device)
    if y.ndim >= 2 and y.shape[-1] > 1:
        index = torch.argmax(y, dim=-1)
    else:
        index = y.reshape(y.shape[0]) if y.ndim > 1 else y
        index = index.round().long() if index.is_floating_point() else index.long()
    # Keras: a class missing from `class_weight` (negative ones too) weighs 1.
    size = class_weight_tensor.shape[0]
    known = (index >= 0) & (index < size)
    weights = class_weight_tensor[index.clamp(0, size - 1)]
    return torch.where(known, weights, torch.ones_like(weights))


def make_class_weight_tensor(class_weight, device):
    if not isinstance(class_weight, dict) or not class_weight:
        raise ValueError(
            "class_weight must be a non-empty dict {class_index: weight}; got "
            f"{class_weight!r}."
        )
    if any(int(k) < 0 for k in class_weight):
        raise ValueError(
            f"class_weight keys must be class indices >= 0; got {sorted(class_weight)}."
        )
    size = max(int(k) for k in class_weight) + 1
    table = torch.ones(size, dtype=torch.float32)
    for key, weight in class_weight.items():
        table[int(key)] = float(weight)
    return table.to(device)


def train_validation_split(arrays, validation_split: float):
    """Split off the last `validation_split` fraction of samples, as Keras does
    (before any shuffling)."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError(
            f"validation_split must be between 0 and 1; got {validation_split!r}."
        )
    leaves = [leaf for leaf in tree.flatten(arrays) if leaf is not None]
    total = int(leaves[0].shape[0])
    split_at = int(math.floor(total * (1.0 - validation_split)))
    if split_at == 0 or split_at == total:
        raise ValueError(
            f"validation_split={validation_split} leaves an empty training or "
            f"validation set for {total} samples. Use a split that keeps samples "
            "on both sides."
        )
    train = tree.map_structure(lambda t: None if t is None else t[:split_at], arrays)
    val = tree.map_structure(lambda t: None if t is None else t[split_at:], arrays)
    return train, val
