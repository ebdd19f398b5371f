"""The one place where lamina decides which device tensors live on.

CUDA if present, else Apple MPS, else CPU; `set_device` overrides it. Weights are
created on this device, inputs are moved to it, and the trainer keeps batches,
losses and metric state there.
"""

import contextlib

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


@contextlib.contextmanager
def device_scope(device_name):
    """`with lamina.device("cpu"):` places the weights and inputs created
    inside on `device_name` (Keras's names: `"cpu"`, `"gpu"`, `"gpu:1"`; torch's
    too: `"cuda:0"`, `"mps"`), then restores the previous choice.

    Example:
    >>> with lamina.device("cpu"):
    ...     layer = lamina.layers.Dense(2)
    ...     layer.build((None, 3))
    >>> layer.kernel.device.type
    'cpu'
    """
    global _DEVICE
    name = str(device_name).lower()
    if name == "gpu" or name.startswith("gpu:"):
        name = "cuda" + name[3:]
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(
            f"lamina.device expects a device name such as 'cpu', 'gpu', 'gpu:1' "
            f"or 'cuda:0'; got {device_name!r}."
        ) from None
    previous = _DEVICE
    _DEVICE = device
    try:
        yield
    finally:
        _DEVICE = previous
