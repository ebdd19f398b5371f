"""Helpers of the training loop: lazy logs, mode switching, conversions, checks."""

import collections.abc

import numpy as np
import torch

from lamina import tree


class MetricLogs(collections.abc.Mapping):
    """Logs that compute metric results on first access, then keep them."""

    __slots__ = ("_model", "_values")

    def __init__(self, model):
        self._model = model
        self._values = None

    def _compute(self):
        if self._values is None:
            values = {}
            for metric in self._model.metrics:
                result = metric.result()
                if isinstance(result, dict):
                    values.update(result)
                else:
                    values[metric.name] = result
            self._values = dict(sorted(values.items()))
        return self._values

    def __getitem__(self, key):
        return self._compute()[key]

    def __iter__(self):
        return iter(self._compute())

    def __len__(self):
        return len(self._compute())

    def __repr__(self):
        return repr(self._compute())


def compile_batch_dynamic(fn):
    """`torch.compile(fn)` whose first call marks the batch axis (axis 0 of
    every tensor argument) dynamic, so the last partial batch of an epoch reuses
    the graph instead of compiling a second one."""
    compiled = torch.compile(fn)
    first = [True]

    def call(*args):
        if first[0]:
            first[0] = False
            for leaf in tree.flatten(args):
                if isinstance(leaf, torch.Tensor) and leaf.ndim > 0:
                    torch._dynamo.maybe_mark_dynamic(leaf, 0)
        return compiled(*args)

    return call


def set_mode(model, training) -> None:
    """Set the torch train/eval flag of every module without marking it as the
    user's choice (see Layer.train): fit/evaluate/predict pass `training` to the
    model explicitly; the flag matters to plain torch modules inside."""
    training = bool(training)
    for module in model.modules():
        if module.training is not training:
            # `training` is a plain instance attribute of nn.Module: writing it
            # directly skips Layer.__setattr__ (a fixed cost of every
            # fit/evaluate/predict call, per module).
            module.__dict__["training"] = training


def spec_of(value):
    """A KerasTensor with the batch's concrete shape (for shape-only passes)."""
    from lamina.backend.keras_tensor import KerasTensor

    if value is None:
        return None
    return KerasTensor(tuple(value.shape), dtype=value.dtype)


def batch_size_of(x) -> int:
    return int(tree.flatten(x)[0].shape[0])


def detach(structure):
    if isinstance(structure, torch.Tensor):
        return structure.detach()
    return tree.map_structure(
        lambda t: t.detach() if isinstance(t, torch.Tensor) else t, structure
    )


def to_python(logs) -> dict:
    """Device tensors to Python floats, in one transfer."""
    if not logs:
        return {}
    keys = list(logs)
    values = [logs[k] for k in keys]
    tensors = [v for v in values if isinstance(v, torch.Tensor)]
    if tensors:
        flat = torch.stack([t.detach().reshape(()).float() for t in tensors]).tolist()
        it = iter(flat)
        values = [next(it) if isinstance(v, torch.Tensor) else v for v in values]
    return {
        k: (float(v) if isinstance(v, (np.floating, np.integer)) else v)
        for k, v in zip(keys, values)
    }


def should_validate(epoch, validation_freq) -> bool:
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return (epoch + 1) in validation_freq


def check_positive_int(value, name, allow_zero=False):
    low = 0 if allow_zero else 1
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or (value < low)
    ):
        raise ValueError(f"`{name}` must be an int >= {low}; got {name}={value!r}.")
