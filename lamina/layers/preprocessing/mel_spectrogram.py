"""MelSpectrogram: audio signals to (log-)power on the mel frequency scale."""

import math

import torch

from lamina import backend, ops
from lamina.layers.layer import Layer
from lamina.layers.preprocessing._data_layer import DataLayerBackend

# The HTK mel scale: mel = 1127 * ln(1 + hertz / 700).
_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


class MelSpectrogram(DataLayerBackend, Layer):
    """Turns raw audio `(batch, samples)` (or one signal `(samples,)`) into a
    mel spectrogram `(batch, num_mel_bins, frames)`: a centred short-time
    Fourier transform, magnitudes raised to `mag_exp`, triangular mel filters,
    then (with `power_to_db`) decibels clipped `top_db` below the maximum. The
    layer has no weights; `frames` is `1 + samples // sequence_stride`.

    Args:
        fft_length: FFT size. Defaults to `2048`.
        sequence_stride: Samples between frames. Defaults to `512`.
        sequence_length: Window length (<= `fft_length`). Defaults to
            `fft_length`.
        window: `"hann"`, `"hamming"` or `None`. Defaults to `"hann"`.
        sampling_rate: Samples per second. Defaults to `16000`.
        num_mel_bins: Number of mel bands. Defaults to `128`.
        min_freq: Lowest band edge in Hz. Defaults to `20.0`.
        max_freq: Highest band edge in Hz. Defaults to `sampling_rate / 2`.
        power_to_db: Convert to decibels. Defaults to `True`.
        top_db: Dynamic range kept below the maximum (over the whole batch,
            as in Keras) in dB. Defaults to `80.0`.
        mag_exp: Exponent of the magnitudes (2 for power). Defaults to `2.0`.
        min_power: Floor before the logarithm. Defaults to `1e-10`.
        ref_power: Power mapped to 0 dB. Defaults to `1.0`.

    Example:
    >>> layer = MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=8)
    >>> tuple(layer(np.random.rand(2, 200).astype("float32")).shape)
    (2, 8, 13)
    """

    def __init__(
        self,
        fft_length=2048,
        sequence_stride=512,
        sequence_length=None,
        window="hann",
        sampling_rate=16000,
        num_mel_bins=128,
        min_freq=20.0,
        max_freq=None,
        power_to_db=True,
        top_db=80.0,
        mag_exp=2.0,
        min_power=1e-10,
        ref_power=1.0,
        **kwargs,
    ):
        for arg, value in (
            ("fft_length", fft_length),
            ("sequence_stride", sequence_stride),
            ("sampling_rate", sampling_rate),
            ("num_mel_bins", num_mel_bins),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"MelSpectrogram expects `{arg}` to be a positive int; got "
                    f"{arg}={value!r}."
                )
        sequence_length = sequence_length or fft_length
        if fft_length < sequence_length:
            raise ValueError(
                "MelSpectrogram: `fft_length` must be greater than or equal to "
                f"`sequence_length`; got sequence_length={sequence_length}, "
                f"fft_length={fft_length}."
            )
        super().__init__(**kwargs)
        self.fft_length = fft_length
        self.sequence_stride = sequence_stride
        self.sequence_length = sequence_length
        self.window = window
        self.sampling_rate = sampling_rate
        self.num_mel_bins = num_mel_bins
        self.min_freq = min_freq
        self.max_freq = max_freq or int(sampling_rate / 2)
        self.power_to_db = power_to_db
        self.top_db = top_db
        self.mag_exp = mag_exp
        self.min_power = min_power
        self.ref_power = ref_power
        self.built = True

    def call(self, inputs):
        dtype = torch.float64 if inputs.dtype == torch.float64 else torch.float32
        x = inputs.to(dtype)
        # 1. |STFT| ** mag_exp: (..., frames, bins).
        real, imag = ops.stft(
            x,
            sequence_length=self.sequence_length,
            sequence_stride=self.sequence_stride,
            fft_length=self.fft_length,
            window=self.window,
            center=True,
        )
        spec = torch.pow(torch.sqrt(real * real + imag * imag), self.mag_exp)
        # 2. Mel filter bank, then decibels. The bank is made on the host once
        # per device and dtype: a copy from pageable host memory to a GPU waits
        # for the device's queue, so a copy per call would stall every step.
        key = (
            spec.shape[-1],
            spec.device,
            spec.dtype,
            self.num_mel_bins,
            self.sampling_rate,
            self.min_freq,
            self.max_freq,
        )
        banks = self.__dict__.setdefault("_mel_banks", {})
        matrix = banks.get(key)
        if matrix is None:
            matrix = banks[key] = self.linear_to_mel_weight_matrix(
                num_mel_bins=self.num_mel_bins,
                num_spectrogram_bins=spec.shape[-1],
                sampling_rate=self.sampling_rate,
                lower_edge_hertz=self.min_freq,
                upper_edge_hertz=self.max_freq,
            ).to(device=spec.device, dtype=spec.dtype)
        outputs = torch.tensordot(spec, matrix, dims=1)
        if self.power_to_db:
            outputs = self._dbscale(outputs)
        return outputs.transpose(-1, -2).to(self._compute_torch_dtype)

    def _dbscale(self, power):
        log_spec = 10.0 * torch.log10(torch.clamp(power, min=self.min_power))
        ref = max(abs(float(self.ref_power)), self.min_power)
        log_spec = log_spec - 10.0 * math.log10(ref)
        # Keras: the range is clipped below the maximum of the whole batch.
        return torch.maximum(log_spec, log_spec.max() - self.top_db)

    @staticmethod
    def _hertz_to_mel(hertz):
        return _MEL_HIGH_FREQUENCY_Q * torch.log(
            1.0 + hertz / _MEL_BREAK_FREQUENCY_HERTZ
        )

    def linear_to_mel_weight_matrix(
        self,
        num_mel_bins=20,
        num_spectrogram_bins=129,
        sampling_rate=8000,
        lower_edge_hertz=125.0,
        upper_edge_hertz=3800.0,
        dtype="float32",
    ):
        """`(num_spectrogram_bins, num_mel_bins)` triangular filters that map
        linear-frequency bins onto mel bands (the DC bin maps to nothing)."""
        dtype = backend.to_torch_dtype(dtype)
        nyquist = float(sampling_rate) / 2.0
        linear = torch.linspace(0.0, nyquist, num_spectrogram_bins, dtype=dtype)[1:]
        bins_mel = self._hertz_to_mel(linear).unsqueeze(1)
        low, high = (
            self._hertz_to_mel(torch.tensor(float(f), dtype=dtype))
            for f in (lower_edge_hertz, upper_edge_hertz)
        )
        edges = torch.linspace(float(low), float(high), num_mel_bins + 2, dtype=dtype)
        lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
        lower_slopes = (bins_mel - lower) / (center - lower)
        upper_slopes = (upper - bins_mel) / (upper - center)
        weights = torch.clamp(torch.minimum(lower_slopes, upper_slopes), min=0.0)
        return torch.nn.functional.pad(weights, (0, 0, 1, 0))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        samples = input_shape[-1]
        frames = None if samples is None else 1 + samples // self.sequence_stride
        return input_shape[:-1] + (self.num_mel_bins, frames)

    def get_config(self):
        return {
            **super().get_config(),
            "fft_length": self.fft_length,
            "sequence_stride": self.sequence_stride,
            "sequence_length": self.sequence_length,
            "window": self.window,
            "sampling_rate": self.sampling_rate,
            "num_mel_bins": self.num_mel_bins,
            "min_freq": self.min_freq,
            "max_freq": self.max_freq,
            "power_to_db": self.power_to_db,
            "top_db": self.top_db,
            "mag_exp": self.mag_exp,
            "min_power": self.min_power,
            "ref_power": self.ref_power,
        }
