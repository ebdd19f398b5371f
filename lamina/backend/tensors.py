"""Turning user data (NumPy, lists, scalars, torch tensors) into device tensors."""

import numpy as np
import torch

from lamina.backend import config
from lamina.backend.device import get_device
from lamina.backend.dtypes import to_torch_dtype


class NotNumbersError(TypeError, ValueError):
    """Data that does not convert to numbers (an object array, text into a
    numeric input): Keras raises a ValueError, lamina first raised a
    TypeError; this is both."""


def convert_to_tensor(x, dtype=None, device=None) -> torch.Tensor:
    """`x` as a torch tensor on `device` (defaults to lamina's device).

    Float64 NumPy data becomes `floatx()` (float32) unless `dtype` says otherwise,
    as Keras does; integer and boolean data keep their kind.
    """
    device = get_device() if device is None else device
    torch_dtype = None if dtype is None else to_torch_dtype(dtype)
    if isinstance(x, torch.Tensor):
        if torch_dtype is None and x.dtype == torch.float64:
            torch_dtype = to_torch_dtype(config.floatx())
        # Queued only towards an accelerator: a copy to the CPU must be complete
        # before the CPU reads it.
        queued = _device_type(device) != "cpu"
        return x.to(device=device, dtype=torch_dtype, non_blocking=queued)
    if isinstance(x, (bool, int, float, torch.SymInt, torch.SymFloat)):
        # A Python number skips NumPy (and stays traceable under torch.compile,
        # where a batch size is a symbolic int).
        if torch_dtype is None:
            torch_dtype = (
                torch.bool
                if isinstance(x, bool)
                else torch.int64
                if isinstance(x, (int, torch.SymInt))
                else to_torch_dtype(config.floatx())
            )
        return torch.tensor(x, dtype=torch_dtype, device=device)
    if isinstance(x, (list, tuple)) and _holds_tensors(x):
        # A list of tensors (which may be on a GPU, where NumPy cannot read
        # them) is stacked, as Keras's torch backend does.
        parts = [convert_to_tensor(e, dtype, device) for e in x]
        try:
            return torch.stack(parts)
        except RuntimeError as error:
            shapes = [tuple(p.shape) for p in parts]
            raise ValueError(
                "Cannot convert a list of tensors to one tensor: expected equal "
                f"shapes, got {shapes}."
            ) from error
    if hasattr(x, "to_numpy") and not isinstance(x, np.ndarray):
        x = x.to_numpy()  # pandas DataFrame / Series
    array = np.asarray(x)
    if array.dtype == object:
        raise NotNumbersError(
            "Invalid dtype: object. Cannot convert it to a tensor; expected numbers "
            f"(got a value of type {type(x).__name__}). Convert it with "
            "np.asarray(x, dtype='float32') first."
        )
    if array.dtype.kind in "USa":
        # Keras's torch backend refuses strings too (ValueError).
        raise ValueError(
            "Cannot convert strings to a tensor: PyTorch has no string dtype "
            f"(got an array of dtype {array.dtype}). Pass the NumPy array of "
            "strings (or a list) straight to the string layer or model "
            "(TextVectorization, StringLookup, Hashing) instead."
        )
    if array.dtype.name == "bfloat16":
        # ml_dtypes' bfloat16, which torch.from_numpy refuses: same 16 bits as
        # uint16.
        bits = torch.from_numpy(np.array(array, order="C").view(np.uint16))
        return bits.view(torch.bfloat16).to(device=device, dtype=torch_dtype)
    if torch_dtype is None and array.dtype.kind == "f" and array.dtype != np.float16:
        torch_dtype = to_torch_dtype(config.floatx())
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
        if not array.flags.writeable:
            array = array.copy()
    return host_to_device(torch.from_numpy(array), device, torch_dtype)


def _holds_tensors(items) -> bool:
    """Whether a list holds tensors at its top level (as Keras checks) or down
    its first elements (a batch of per-image box lists): a scan no deeper than
    Keras's, however large nested lists of numbers are."""
    if any(isinstance(e, torch.Tensor) for e in items):
        return True
    return (
        bool(items) and isinstance(items[0], (list, tuple)) and _holds_tensors(items[0])
    )


def host_to_device(tensor, device, dtype=None) -> torch.Tensor:
    """A host tensor on `device` (and in `dtype`). To a GPU it is staged
    through pinned memory, so the copy is queued and the host goes on (e.g. to
    the next batch's Python) while it runs; torch's pinned allocator keeps the
    staging buffer until the copy is done. A fake tensor (shape inference of
    a symbolic call) has no memory to pin and moves plainly."""
    if _device_type(device) == "cuda" and type(tensor) is torch.Tensor:
        return tensor.pin_memory().to(device, dtype=dtype, non_blocking=True)
    return tensor.to(device=device, dtype=dtype)


def _device_type(device) -> str:
    return (device if isinstance(device, torch.device) else torch.device(device)).type


@torch.no_grad()
def copy_into(tensor, value) -> None:
    """`tensor.copy_(value)` for a whole value (an array or tensor of
    `tensor`'s full shape), also where `tensor` is a sharded DTensor (FSDP):
    each rank then keeps its own shard of `value`, which every rank holds.
    A weight of a sharded layer (a `ShardedVariable`) is written through its
    `assign`, which first puts back a layer FSDP left gathered."""
    value = torch.as_tensor(value)
    if hasattr(tensor, "full_tensor"):
        if hasattr(tensor, "assign"):
            tensor.assign(value)
            return
        from torch.distributed.tensor import distribute_tensor

        value = distribute_tensor(
            value.to(device=tensor.device, dtype=tensor.dtype),
            tensor.device_mesh,
            tensor.placements,
            src_data_rank=None,  # every rank has the value: slice, no traffic
        )
    tensor.copy_(value)


def convert_to_numpy(x) -> np.ndarray:
    """A NumPy copy of a tensor (moved to the host), or `np.asarray(x)`."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if hasattr(x, "full_tensor"):  # a sharded DTensor (FSDP): gather it
            x = x.full_tensor()
        if x.dtype == torch.bfloat16:
            x = x.float()
        # .cpu() on a CPU tensor is the same memory: copy, so the array does not
        # change when training later updates the tensor in place.
        return x.cpu().numpy().copy() if x.device.type == "cpu" else x.cpu().numpy()
    return np.asarray(x)
