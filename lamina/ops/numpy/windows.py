"""Window functions for signal processing: `bartlett`, `blackman`, `hamming`,
`hanning`, `kaiser`.

Each takes the window length `M` and returns `M` floatx samples of the
symmetric window, as NumPy's functions do (an empty tensor for `M <= 0`,
`[1.0]` for `M == 1`).
"""

import numpy as np
import torch

from lamina.backend import get_device
from lamina.ops._utils import Tensor, floatx_dtype
from lamina.ops.operation import op


def _length(name, x) -> int:
    if isinstance(x, (Tensor, np.ndarray, np.generic)) and x.ndim == 0:
        x = x.item()  # a 0-d tensor or array holding the length
        x = int(x) if isinstance(x, bool) else x  # Keras: any dtype
    if isinstance(x, float) and x.is_integer():
        x = int(x)  # Keras: a length held in a float tensor (or 5.0)
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(
            f"ops.{name} expects the window length as an int; got {x!r} of type "
            f"{type(x).__name__}."
        )
    return int(x)


def _window(name, fn, x, **kwargs) -> Tensor:
    length = _length(name, x)
    if length <= 0:
        return torch.zeros((0,), dtype=floatx_dtype(), device=get_device())
    return fn(length, dtype=floatx_dtype(), device=get_device(), **kwargs)


@op
def bartlett(x) -> Tensor:
    """The Bartlett (triangular) window of length `x`, zero at both ends.

    Example:
    >>> lamina.ops.bartlett(5).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    return _window("bartlett", torch.signal.windows.bartlett, x)


@op
def blackman(x) -> Tensor:
    """The Blackman window of length `x` (three cosine terms)."""
    return _window("blackman", torch.signal.windows.blackman, x)


@op
def hamming(x) -> Tensor:
    """The Hamming window of length `x`: `0.54 - 0.46 cos(2 pi n / (x - 1))`."""
    return _window("hamming", torch.signal.windows.hamming, x)


@op
def hanning(x) -> Tensor:
    """The Hann window of length `x`: `0.5 - 0.5 cos(2 pi n / (x - 1))`."""
    return _window("hanning", torch.signal.windows.hann, x)


@op
def kaiser(x, beta) -> Tensor:
    """The Kaiser window of length `x`; `beta` sets the shape (0: rectangular,
    larger: narrower)."""
    return _window("kaiser", torch.signal.windows.kaiser, x, beta=float(beta))
