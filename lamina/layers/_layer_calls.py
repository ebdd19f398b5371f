"""Helpers for calling a layer: call context, masks, device moves, tensor conversion."""

import threading

import numpy as np
import torch

from lamina import backend, tree
from lamina.backend.keras_tensor import KerasTensor


class _CallContext(threading.local):
    """Per-thread state of the outermost layer call: its `training` value, depth."""

    def __init__(self):
        self.training = None
        self.depth = 0


_CALL_CONTEXT = _CallContext()
# Set once any layer calls add_loss(); until then calls skip loss bookkeeping.
_ADD_LOSS_USED = [False]


def _shape_of(x):
    if isinstance(x, (torch.Tensor, KerasTensor)):
        return tuple(x.shape)
    if isinstance(x, np.ndarray):
        return x.shape
    return None


def _device_type(args) -> str:
    first = args[0] if args else None
    if isinstance(first, torch.Tensor):
        return first.device.type
    return backend.get_device().type


def _get_mask(inputs):
    """The `_keras_mask` carried by a tensor (or list of tensors), else None."""
    if isinstance(inputs, torch.Tensor):
        return getattr(inputs, "_keras_mask", None)
    if isinstance(inputs, (list, tuple)):
        masks = [getattr(t, "_keras_mask", None) for t in inputs]
        return None if all(m is None for m in masks) else masks
    return None


def _set_mask(outputs, mask):
    if mask is None:
        return
    if isinstance(outputs, torch.Tensor):
        outputs._keras_mask = mask
    elif isinstance(outputs, (list, tuple)):
        masks = mask if isinstance(mask, (list, tuple)) else [mask] * len(outputs)
        for output, output_mask in zip(outputs, masks):
            if isinstance(output, torch.Tensor) and output_mask is not None:
                output._keras_mask = output_mask


def _onto_device(device, args, kwargs):
    """`args` and `kwargs` with every tensor on another device copied to `device`,
    as Keras's torch backend does when its ops convert their inputs (a CPU
    tensor reaches a layer whose weights are on the GPU). Keras masks travel
    along. Calls inside a layer's call skip this: their tensors are on the
    device already."""

    # Queued (non-blocking) only towards an accelerator: a copy back to the
    # CPU must be complete before the CPU computes with it.
    queued = device.type != "cpu"

    def move(x):
        if not isinstance(x, torch.Tensor) or _on(x, device):
            return x
        moved = x.to(device, non_blocking=queued)
        mask = getattr(x, "_keras_mask", None)
        if mask is not None:
            moved._keras_mask = mask.to(device, non_blocking=queued)
        return moved

    if len(args) == 1 and not kwargs:
        first = args[0]
        if isinstance(first, torch.Tensor) and _on(first, device):
            return args, kwargs  # the common case, without a tree walk
    return tree.map_structure(move, args), tree.map_structure(move, kwargs)


def _on(x, device):
    here = x.device
    return here.type == device.type and (
        device.index is None or here.index is None or here.index == device.index
    )


def _to_tensors(x):
    if isinstance(x, (list, tuple, dict)):
        return tree.map_structure(
            lambda v: (
                v
                if isinstance(v, (torch.Tensor, KerasTensor)) or v is None
                else backend.convert_to_tensor(v)
            ),
            x,
        )
    return backend.convert_to_tensor(x)
