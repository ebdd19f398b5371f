"""The one place where lamina decides which device tensors live on.

CUDA if present, else Apple MPS, else CPU; `set_device` overrides it. Weights are
created on this device, inputs are moved to it, and the trainer keeps batches,
losses and metric state there.
"""

import torch

_DEVICE = None


def _auto_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def get_device() -> torch.device:
    """The device new weights and converted inputs are placed on."""
    global _DEVICE
    if _DEVICE is None:
        _DEVICE = _auto_device()
    return _DEVICE


def set_device(device) -> None:
    """Override the automatic choice, e.g. `set_device("cpu")`; `None` restores it."""
    global _DEVICE
    _DEVICE = None if device is None else torch.device(device)
