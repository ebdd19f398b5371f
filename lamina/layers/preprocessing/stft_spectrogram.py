"""STFTSpectrogram: a short-time Fourier transform as a trainable convolution."""

import math
import warnings

import torch
import torch.nn.functional as F

from lamina import backend, initializers, ops
from lamina.layers.convolutional import _conv_utils as U
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer

_MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")


class STFTSpectrogram(Layer):
    """Spectrogram of each channel of `(batch, time, channels)` signals, by
    convolving them with the `real_kernel` and `imag_kernel` weights (a
    windowed DFT basis from `initializers.STFT`), so the transform can be
    fine-tuned like any layer.

    Args:
        mode: What to return: `"log"` (log magnitude, default), `"magnitude"`,
            `"psd"` (power spectral density), `"real"`, `"imag"`, `"angle"`
            (phase) or `"stft"` (real and imaginary parts stacked on the
            frequency axis).
        frame_length: Samples per frame, a positive int. Defaults to `256`.
        frame_step: Samples between frames; at most `frame_length`. Defaults
            to `frame_length // 2`.
        fft_length: FFT size (>= `frame_length`); `fft_length // 2 + 1`
            frequency bins. Defaults to the next power of two of
            `frame_length`.
        window: Window name (`"hann"`, `"hamming"`, ...), a 1-D array of
            `frame_length` values, or `None`. Defaults to `"hann"`.
        periodic: Periodic instead of symmetric named window. Defaults to
            `False`.
        scaling: `"density"`, `"spectrum"` or `None`, as in
            `initializers.STFT`. Defaults to `"density"`.
        padding: `"valid"` or `"same"` framing. Defaults to `"valid"`.
        expand_dims: Keep channels on their own axis instead of merging them
            with the frequency bins. Defaults to `False`.
        data_format: `"channels_last"` `(batch, time, channels)` or
            `"channels_first"` `(batch, channels, time)`. Defaults to
            `image_data_format()`.

    Output (`channels_last`): `(batch, frames, channels * bins)`, or `(batch,
    frames, bins, channels)` with `expand_dims`; (`channels_first`): `(batch,
    channels * bins, frames)`, or `(batch, channels, frames, bins)`.

    Example:
    >>> layer = STFTSpectrogram(frame_length=16, frame_step=8)
    >>> tuple(layer(np.ones((2, 64, 1), "float32")).shape)
    (2, 7, 9)
    """

    def __init__(
        self,
        mode="log",
        frame_length=256,
        frame_step=None,
        fft_length=None,
        window="hann",
        periodic=False,
        scaling="density",
        padding="valid",
        expand_dims=False,
        data_format=None,
        **kwargs,
    ):
        U.check_positive_int(frame_length, "frame_length", "STFTSpectrogram", "256")
        if frame_step is not None and (
            not U.is_int(frame_step) or not 1 <= frame_step <= frame_length
        ):
            raise ValueError(
                "STFTSpectrogram expects `frame_step` to be a positive int not "
                f"greater than frame_length={frame_length}; got "
                f"frame_step={frame_step!r}."
            )
        if fft_length is not None and (
            not U.is_int(fft_length) or fft_length < frame_length
        ):
            raise ValueError(
                "STFTSpectrogram expects `fft_length` to be an int not less than "
                f"frame_length={frame_length}; got fft_length={fft_length!r}."
            )
        if fft_length is not None and (fft_length & -fft_length) != fft_length:
            warnings.warn(
                "STFTSpectrogram: `fft_length` is best a power of two; got "
                f"fft_length={fft_length}.",
                stacklevel=2,
            )
        if mode not in _MODES:
            raise ValueError(
                f"STFTSpectrogram expects `mode` to be one of {_MODES}; got "
                f"mode={mode!r}."
            )
        if padding not in ("valid", "same"):
            raise ValueError(
                "STFTSpectrogram expects padding='valid' or 'same'; got "
                f"padding={padding!r}."
            )
        # Validates `window` and `scaling` with the initializer's messages.
        initializers.STFT("real", window, scaling, periodic)
        super().__init__(**kwargs)
        self.mode = mode
        self.frame_length = frame_length
        self.frame_step = frame_step
        self._frame_step = frame_step or frame_length // 2
        self.fft_length = fft_length
        self._fft_length = fft_length or 2 ** int(math.ceil(math.log2(frame_length)))
        self.window = window
        self.periodic = periodic
        self.scaling = scaling
        self.padding = padding
        self.expand_dims = expand_dims
        self.data_format = U.standardize_data_format(data_format, "STFTSpectrogram")
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape):
        shape = (self.frame_length, 1, self._fft_length // 2 + 1)
        args = (self.window, self.scaling, self.periodic)
        if self.mode != "imag":
            self.real_kernel = self.add_weight(
                name="real_kernel",
                shape=shape,
                initializer=initializers.STFT("real", *args),
            )
        if self.mode != "real":
            self.imag_kernel = self.add_weight(
                name="imag_kernel",
                shape=shape,
                initializer=initializers.STFT("imag", *args),
            )

    def call(self, inputs):
        if inputs.dtype not in (torch.float16, torch.float32, torch.float64):
            raise TypeError(
                f"Layer '{self.name}' (STFTSpectrogram) expects float16, float32 "
                f"or float64 signals; got dtype {backend.standardize_dtype(inputs.dtype)}."
            )
        real = imag = None
        if self.mode != "imag":
            real = self._apply_conv(inputs, self.real_kernel)
        if self.mode != "real":
            imag = self._apply_conv(inputs, self.imag_kernel)
        if self.mode == "real":
            return self._adjust_shapes(real)
        if self.mode == "imag":
            return self._adjust_shapes(imag)
        if self.mode == "angle":
            return self._adjust_shapes(torch.atan2(imag, real))
        if self.mode == "stft":
            return self._adjust_shapes(torch.cat([real, imag], dim=2))
        power = real * real + imag * imag
        if self.mode == "psd":
            # One-sided PSD: every bin but DC and Nyquist counts twice.
            return self._adjust_shapes(power + F.pad(power[:, :, 1:-1], (0, 0, 1, 1)))
        eps = backend.epsilon()
        magnitude = self._adjust_shapes(torch.sqrt(torch.clamp(power, min=eps)))
        if self.mode == "magnitude":
            return magnitude
        return torch.log(torch.clamp(magnitude, min=eps))

    def _apply_conv(self, inputs, kernel):
        """Frames of every channel convolved with `kernel`: `(batch, channels,
        bins, frames)`."""
        if self.data_format == "channels_last":
            inputs = inputs.transpose(1, 2)
        batch, channels, time = inputs.shape
        outputs = ops.conv(
            inputs.reshape(batch * channels, time, 1),
            kernel.to(inputs.dtype),
            strides=self._frame_step,
            padding=self.padding,
            data_format="channels_last",
        )
        return outputs.transpose(1, 2).reshape(batch, channels, -1, outputs.shape[1])

    def _adjust_shapes(self, outputs):
        batch, channels, bins, frames = outputs.shape
        if self.expand_dims:
            if self.data_format == "channels_last":
                return outputs.permute(0, 3, 2, 1)
            return outputs.transpose(2, 3)
        outputs = outputs.reshape(batch, channels * bins, frames)
        if self.data_format == "channels_last":
            return outputs.transpose(1, 2)
        return outputs

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.data_format == "channels_last":
            batch, time, channels = input_shape
        else:
            batch, channels, time = input_shape
        bins = self._fft_length // 2 + 1
        if self.mode == "stft":
            bins *= 2
        frames = U.conv_output_length(
            time, self.frame_length, self._frame_step, self.padding
        )
        if self.expand_dims:
            if self.data_format == "channels_last":
                return (batch, frames, bins, channels)
            return (batch, channels, frames, bins)
        merged = None if channels is None else channels * bins
        if self.data_format == "channels_last":
            return (batch, frames, merged)
        return (batch, merged, frames)

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "fft_length": self.fft_length,
            "window": self.window,
            "periodic": self.periodic,
            "scaling": self.scaling,
            "padding": self.padding,
            "data_format": self.data_format,
            "expand_dims": self.expand_dims,
        }
