"""Data adapters: every kind of input `fit` accepts becomes batches of device tensors."""

import types

import numpy as np
import torch

from lamina.trainers.data_adapters import data_adapter_utils
from lamina.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
from lamina.trainers.data_adapters.data_adapter import DataAdapter
from lamina.trainers.data_adapters.generator_data_adapter import GeneratorDataAdapter
from lamina.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter
from lamina.trainers.data_adapters.torch_data_loader_adapter import (
    TorchDataLoaderAdapter,
)

_SELF_BATCHED_ARGS = ("y", "sample_weight")


def get_data_adapter(
    x,
    y=None,
    sample_weight=None,
    batch_size=None,
    shuffle=False,
    class_weight=None,
    check_nan=True,
) -> DataAdapter:
    """Choose the adapter for `x` (and `y`, `sample_weight`). `check_nan=False`
    skips the NaN scan of array inputs (predict)."""
    if isinstance(x, DataAdapter):
        return x
    if _only_nones(x):
        raise ValueError(
            f"x holds no data: every input in it is None ({x!r}). None stands in "
            "for a missing optional input (`Input(..., optional=True)`); an input "
            "that is not optional needs an array."
        )
    if data_adapter_utils.is_array_like(x):
        if x is None:
            raise ValueError("fit/evaluate/predict need input data x; got x=None.")
        return ArrayDataAdapter(
            x,
            y,
            sample_weight,
            batch_size=batch_size,
            shuffle=shuffle,
            class_weight=class_weight,
            check_nan=check_nan,
        )
    from lamina.utils import PyDataset

    given = {"y": y, "sample_weight": sample_weight}
    if not isinstance(x, PyDataset):  # a PyDataset's (x, y) batches take it
        given["class_weight"] = class_weight
    extra = [k for k, v in given.items() if v is not None]
    kind = type(x).__name__
    if extra:
        if isinstance(x, torch.utils.data.DataLoader):
            kind = "torch DataLoader"
        elif isinstance(x, torch.utils.data.Dataset):
            kind = "torch Dataset"
        if extra == ["class_weight"]:
            # Keras: its own message, pointing at per-sample weights instead.
            raise ValueError(
                f"When providing `x` as a {kind}, `class_weight` should not be "
                f"passed. Argument `class_weight` is not supported for {kind} "
                f"inputs: make the {kind} yield (x, y, sample_weight) batches, "
                "with each sample's weight taken from its class. Received: "
                f"class_weight={class_weight!r}"
            )
        names = ", ".join(f"`{name}`" for name in extra)
        raise ValueError(
            f"When providing `x` as a {kind}, {names} should not be passed. "
            f"Instead, the {kind} must yield the targets itself: (x, y) or "
            "(x, y, sample_weight) batches." + _numbers_hint(x)
        )
    if isinstance(x, PyDataset):
        return PyDatasetAdapter(x, shuffle=shuffle, class_weight=class_weight)
    if isinstance(x, (torch.utils.data.DataLoader, torch.utils.data.Dataset)):
        return TorchDataLoaderAdapter(x, batch_size=batch_size, shuffle=shuffle)
    if isinstance(x, types.GeneratorType) or (
        hasattr(x, "__next__") and hasattr(x, "__iter__")
    ):
        return GeneratorDataAdapter(x)
    raise ValueError(
        f"Unrecognized data type: x is a {kind}. Expected NumPy arrays, torch "
        "tensors, pandas DataFrames/Series, lists or dicts of those, a Python "
        "generator, a lamina.utils.PyDataset, or a torch Dataset/DataLoader."
    )


__all__ = [
    "ArrayDataAdapter",
    "DataAdapter",
    "GeneratorDataAdapter",
    "PyDatasetAdapter",
    "TorchDataLoaderAdapter",
    "get_data_adapter",
]


def _only_nones(x) -> bool:
    """A list, tuple or dict of inputs that are all None (`fit([None], y)`)."""
    if not isinstance(x, (list, tuple, dict)) or not x:
        return False
    values = x.values() if isinstance(x, dict) else x
    return all(v is None for v in values)


def _numbers_hint(x) -> str:
    """For the error above: a Python list of numbers (or of lists of them) is
    most likely data meant as an array (Keras: "Unrecognized data type")."""
    if not isinstance(x, (list, tuple)) or not x:
        return ""
    first = x[0]
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    if not isinstance(first, (int, float, bool, np.number)):
        return ""
    return (
        " Unrecognized data type: `x` is a Python list of numbers; pass it as "
        "an array, e.g. np.asarray(x, dtype='float32')."
    )
