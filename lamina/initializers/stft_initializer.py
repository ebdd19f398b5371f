"""STFT: an initializer holding a windowed DFT basis, a Conv1D kernel that
computes a short-time Fourier transform (used by STFTSpectrogram)."""

import numpy as np
import torch

from lamina.backend import standardize_dtype, to_torch_dtype
from lamina.initializers._windows import check_window_name, get_window
from lamina.initializers.initializer import Initializer, standardize_shape


class STFT(Initializer):
    """A `(frame_length, input_channels, fft_bins)` kernel whose convolution
    with a signal gives the real (`cos`) or imaginary (`-sin`) part of its
    windowed discrete Fourier transform, frame by frame. `fft_bins` is
    `fft_length // 2 + 1`.

    Args:
        side: `"real"` or `"imag"`. Defaults to `"real"`.
        window: The name of a window that needs no parameter, as
            `scipy.signal.get_window` names it (`"hann"`, `"hamming"`,
            `"blackman"`, `"bartlett"`, `"boxcar"`, `"triang"`, `"tukey"`,
            `"nuttall"`, `"flattop"`, `"blackmanharris"`, `"bohman"`,
            `"parzen"`, `"barthann"`, `"cosine"`, `"exponential"`,
            `"lanczos"` and their scipy aliases), a 1-D array of
            `frame_length` values, or `None` (no window). Defaults to
            `"hann"`.
        scaling: `"density"` (divide by the window's L2 norm), `"spectrum"`
            (by its sum) or `None`. Defaults to `"density"`.
        periodic: Use the periodic form of a named window (for spectral
            analysis) instead of the symmetric one. Defaults to `False`.

    Example:
    >>> from lamina import initializers
    >>> kernel = initializers.STFT("real", window=None, scaling=None)((4, 1, 3))
    >>> kernel[:, 0, 0].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        if side not in ("real", "imag"):
            raise ValueError(f"STFT expects side='real' or 'imag'; got side={side!r}.")
        if isinstance(window, str):
            check_window_name("STFT", window)
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(
                "STFT expects scaling='density', 'spectrum' or None; got "
                f"scaling={scaling!r}."
            )
        self.side = side
        self.window = window
        self.scaling = scaling
        self.periodic = periodic

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        shape = standardize_shape(shape, "STFT")
        if len(shape) != 3:
            raise ValueError(
                "STFT fills kernels of shape (frame_length, input_channels, "
                f"fft_bins); got shape={shape}."
            )
        frame_length, _, bins = shape
        dtype = to_torch_dtype(standardize_dtype(dtype))
        # 1. The DFT basis exp(-2 pi i t k / n_fft), n_fft = 2 * (bins - 1),
        # computed in `dtype` in Keras's order so both give the same bits.
        freq = torch.arange(bins, dtype=dtype).reshape(1, 1, -1) / ((bins - 1) * 2)
        time = torch.arange(frame_length, dtype=dtype).reshape(-1, 1, 1)
        args = (-2 * time) * freq * torch.arccos(torch.tensor(-1.0, dtype=dtype))
        kernel = torch.cos(args) if self.side == "real" else torch.sin(args)
        # 2. The window and its normalization.
        if self.window is not None:
            win = self._window(frame_length).to(dtype).reshape(-1, 1, 1)
            if self.scaling == "density":
                scale = torch.sqrt(torch.sum(win * win))
            elif self.scaling == "spectrum":
                scale = torch.sum(torch.abs(win))
            else:
                scale = 1.0
            kernel = kernel * win / scale
        return torch.broadcast_to(kernel, shape).to(dtype).clone()

    def _window(self, length):
        if isinstance(self.window, str):
            win = get_window(self.window, length, periodic=self.periodic)
            return torch.as_tensor(win, dtype=torch.float64)
        if isinstance(self.window, torch.Tensor):
            win = self.window.detach().cpu().to(torch.float64)
        else:
            win = torch.as_tensor(np.asarray(self.window, dtype=np.float64))
        if tuple(win.shape) != (length,):
            raise ValueError(
                f"STFT expects a window of shape ({length},) (frame_length); got "
                f"shape {tuple(win.shape)}."
            )
        return win

    def get_config(self) -> dict:
        return {
            "side": self.side,
            "window": self.window,
            "periodic": self.periodic,
            "scaling": self.scaling,
        }
