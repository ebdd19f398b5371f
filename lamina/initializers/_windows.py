"""Named window functions for the STFT initializer, in float64 NumPy.

The names, aliases and values follow `scipy.signal.get_window(name, length,
fftbins=periodic)` for the windows that need no parameter (Keras's `STFT`
accepts exactly those as strings). scipy is not a lamina dependency, so each
window is written out here.
"""

import numpy as np


def _cosine_sum(coefficients):
    # sum_k a_k cos(k x), x running over [-pi, pi]: hann, hamming, blackman...
    def window(m):
        x = np.linspace(-np.pi, np.pi, m)
        return sum(a * np.cos(k * x) for k, a in enumerate(coefficients))

    return window


def _boxcar(m):
    return np.ones(m)


def _triang(m):
    n = np.arange(1, (m + 1) // 2 + 1)
    if m % 2 == 0:
        half = (2 * n - 1.0) / m
        return np.concatenate([half, half[::-1]])
    half = 2 * n / (m + 1.0)
    return np.concatenate([half, half[-2::-1]])


def _bartlett(m):
    n = np.arange(m)
    return np.where(n <= (m - 1) / 2.0, 2.0 * n / (m - 1), 2.0 - 2.0 * n / (m - 1))


def _parzen(m):
    n = np.arange(-(m - 1) / 2.0, (m - 1) / 2.0 + 0.5, 1.0)
    outer = n[n < -(m - 1) / 4.0]
    inner = n[np.abs(n) <= (m - 1) / 4.0]
    w_outer = 2 * (1 - np.abs(outer) / (m / 2.0)) ** 3
    w_inner = (
        1 - 6 * (np.abs(inner) / (m / 2.0)) ** 2 + 6 * (np.abs(inner) / (m / 2.0)) ** 3
    )
    return np.concatenate([w_outer, w_inner, w_outer[::-1]])


def _bohman(m):
    x = np.abs(np.linspace(-1, 1, m)[1:-1])
    inner = (1 - x) * np.cos(np.pi * x) + np.sin(np.pi * x) / np.pi
    return np.concatenate([[0.0], inner, [0.0]])


def _barthann(m):
    x = np.abs(np.arange(m) / (m - 1.0) - 0.5)
    return 0.62 - 0.48 * x + 0.38 * np.cos(2 * np.pi * x)


def _cosine(m):
    return np.sin(np.pi / m * (np.arange(m) + 0.5))


def _exponential(m):
    # centre (m - 1) / 2, decay constant 1
    return np.exp(-np.abs(np.arange(m) - (m - 1) / 2.0))


def _lanczos(m):
    w = np.sinc(2.0 * np.arange(m) / (m - 1) - 1.0)
    return (w + w[::-1]) / 2  # exactly symmetric


def _tukey(m, alpha=0.5):
    n = np.arange(m)
    width = int(np.floor(alpha * (m - 1) / 2.0))
    head = n[: width + 1]
    tail = n[m - width - 1 :]
    w_head = 0.5 * (1 + np.cos(np.pi * (-1 + 2.0 * head / alpha / (m - 1))))
    w_tail = 0.5 * (
        1 + np.cos(np.pi * (-2.0 / alpha + 1 + 2.0 * tail / alpha / (m - 1)))
    )
    return np.concatenate([w_head, np.ones(m - 2 * (width + 1)), w_tail])


_FAMILIES = {
    ("barthann", "brthan", "bth"): _barthann,
    ("bartlett", "bart", "brt"): _bartlett,
    ("blackman", "black", "blk"): _cosine_sum([0.42, 0.50, 0.08]),
    ("blackmanharris", "blackharr", "bkh"): _cosine_sum(
        [0.35875, 0.48829, 0.14128, 0.01168]
    ),
    ("bohman", "bman", "bmn"): _bohman,
    ("boxcar", "box", "ones", "rect", "rectangular"): _boxcar,
    ("cosine", "halfcosine"): _cosine,
    ("exponential", "poisson"): _exponential,
    ("flattop", "flat", "flt"): _cosine_sum(
        [0.21557895, 0.41663158, 0.277263158, 0.083578947, 0.006947368]
    ),
    ("hamming", "hamm", "ham"): _cosine_sum([0.54, 0.46]),
    ("hann", "han"): _cosine_sum([0.5, 0.5]),
    ("lanczos", "sinc"): _lanczos,
    ("nuttall", "nutl", "nut"): _cosine_sum(
        [0.3635819, 0.4891775, 0.1365995, 0.0106411]
    ),
    ("parzen", "parz", "par"): _parzen,
    ("triangle", "triang", "tri"): _triang,
    ("tukey", "tuk"): _tukey,
}
WINDOWS = {name: fn for names, fn in _FAMILIES.items() for name in names}


def get_window(name: str, length: int, periodic: bool = False) -> np.ndarray:
    """The `length` values of window `name` (float64), symmetric or periodic.

    A periodic window is the symmetric window of `length + 1` points without
    its last point (the form used for spectral analysis).
    """
    if length <= 1:
        return np.ones(length)
    full = WINDOWS[name](length + 1 if periodic else length)
    return full[:length]


def check_window_name(owner: str, name: str) -> None:
    """Raise a ValueError naming the accepted windows if `name` is not one."""
    if name not in WINDOWS:
        accepted = sorted(names[0] for names in _FAMILIES)
        raise ValueError(
            f"{owner} expects `window` to be the name of a window that needs no "
            f"parameter, one of {accepted} (or a scipy alias of one), a 1-D array "
            f"of frame_length values, or None; got window={name!r}. Windows that "
            "need a parameter (kaiser, gaussian, ...) are not accepted by name: "
            "pass their values as an array."
        )
