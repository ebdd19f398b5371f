"""Math ops (`keras.ops.math`): special functions, `logsumexp`, `top_k`,
`in_top_k`, segment reductions, `logdet`, `cdist`, framing, and FFTs.

Keras passes complex numbers as `(real, imag)` pairs of float tensors: the FFT
ops take and return such pairs (`irfft` and `istft` return real tensors).
"""

import functools
import math

import torch
import torch.nn.functional as F

from lamina.backend.keras_tensor import KerasTensor
from lamina.ops._utils import Tensor, check_axis, to_float, to_tensor, to_tensors
from lamina.ops.operation import op


@op
def erf(x) -> Tensor:
    """The Gauss error function; integers give floatx."""
    return torch.erf(to_float(to_tensor(x)))


@op
def erfinv(x) -> Tensor:
    """Inverse of `erf` on (-1, 1); integers give floatx."""
    return torch.erfinv(to_float(to_tensor(x)))


@op
def rsqrt(x) -> Tensor:
    """`1 / sqrt(x)`; integers give floatx."""
    return torch.rsqrt(to_float(to_tensor(x)))


@op
def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """`log(sum(exp(x)))` over `axis`, computed without overflow."""
    x = to_float(to_tensor(x))
    axis = check_axis("logsumexp", axis, x.ndim)
    if axis is None:
        axis = tuple(range(x.ndim))
    return torch.logsumexp(x, dim=axis, keepdim=keepdims)


@op
def top_k(x, k: int, sorted: bool = True):
    """The `k` largest values along the last axis and their int32 indices.

    Example:
    >>> values, indices = lamina.ops.top_k([1.0, 3.0, 2.0], 2)
    >>> values.tolist(), indices.tolist()
    ([3.0, 2.0], [1, 2])
    """
    x = to_tensor(x)
    if x.ndim == 0 or not 0 <= k <= x.shape[-1]:
        raise ValueError(
            f"ops.top_k expects 0 <= k <= the size of the last axis; got k={k!r} "
            f"for a tensor of shape {tuple(x.shape)}."
        )
    values, indices = torch.topk(x, k, dim=-1, sorted=sorted)
    # A (values, indices) pair that also has `.values` / `.indices`, as in Keras.
    return torch.return_types.topk((values, indices.to(torch.int32)))


@op
def in_top_k(targets, predictions, k: int) -> Tensor:
    """Whether each `targets[i]` is among the `k` largest `predictions[i]`.

    Ties count as inside, as in Keras: a target whose score equals the k-th
    largest is in the top k.
    """
    predictions = to_tensor(predictions)
    targets = to_tensor(targets, device=predictions.device).to(torch.int64)
    if k >= predictions.shape[-1]:
        return torch.ones(targets.shape, dtype=torch.bool, device=predictions.device)
    kth_largest = torch.topk(predictions, k, dim=-1).values[..., -1:]
    target_scores = torch.take_along_dim(predictions, targets.unsqueeze(-1), dim=-1)
    return (target_scores >= kth_largest).squeeze(-1)


def _segment_ids(name: str, data: Tensor, segment_ids, num_segments):
    """Ids as int64 with out-of-range ones sent to an extra, dropped segment."""
    segment_ids = to_tensor(segment_ids, device=data.device).to(torch.int64)
    if segment_ids.ndim != 1:
        raise ValueError(
            f"ops.{name}: Argument `segment_ids` should be an 1-D vector, one id "
            f"per row of `data`; got segment_ids of shape "
            f"{tuple(segment_ids.shape)}."
        )
    if data.ndim == 0 or segment_ids.shape[0] != data.shape[0]:
        from lamina.backend.shape_inference import inferring

        if not inferring() or data.ndim == 0:
            raise ValueError(
                f"ops.{name}: Argument `segment_ids` and `data` should have same "
                f"leading dimension (one id per row of `data`); got segment_ids "
                f"of shape {tuple(segment_ids.shape)} for data of shape "
                f"{tuple(data.shape)}."
            )
        # Keras: an unknown (None) leading size of either matches any other;
        # shape inference probes it with a size that need not agree.
        segment_ids = segment_ids.new_zeros(data.shape[:1])
    if num_segments is None:
        num_segments = int(segment_ids.max()) + 1 if segment_ids.numel() else 0
    # Out-of-range ids go to an extra bucket that is dropped: no host sync.
    valid = (segment_ids >= 0) & (segment_ids < num_segments)
    return torch.where(valid, segment_ids, num_segments), int(num_segments)


def _segments_counted_from_values(op_fn):
    """For symbolic inputs without `num_segments`, the segment count is read
    from the ids' values, so the output's leading size is unknown (`None`), as
    in Keras; shape inference alone would report the count for its probe ids."""

    @functools.wraps(op_fn)
    def wrapper(data, segment_ids, num_segments=None, sorted=False):
        result = op_fn(data, segment_ids, num_segments, sorted)
        if num_segments is None and isinstance(result, KerasTensor):
            result._shape = (None,) + tuple(result.shape[1:])
        return result

    wrapper.__wrapped__ = op_fn.__wrapped__
    return wrapper


@_segments_counted_from_values
@op
def segment_sum(data, segment_ids, num_segments=None, sorted: bool = False) -> Tensor:
    """Sums of the rows of `data` that share a segment id.

    Row `i` of the result is the sum of `data[j]` over all `j` with
    `segment_ids[j] == i`; ids outside `[0, num_segments)` are dropped. Without
    `num_segments` it is `max(segment_ids) + 1`, which needs the ids on the host,
    so pass it inside training steps.
    """
    data = to_tensor(data)
    segment_ids, num_segments = _segment_ids(
        "segment_sum", data, segment_ids, num_segments
    )
    out = torch.zeros(
        (num_segments + 1,) + tuple(data.shape[1:]),
        dtype=data.dtype,
        device=data.device,
    )
    return out.index_add_(0, segment_ids, data)[:num_segments]


def _segment_reduce(name, reduce, fill, data, segment_ids, num_segments):
    data = to_tensor(data)
    segment_ids, num_segments = _segment_ids(name, data, segment_ids, num_segments)
    out = torch.full(
        (num_segments + 1,) + tuple(data.shape[1:]),
        fill,
        dtype=data.dtype,
        device=data.device,
    )
    index = segment_ids.reshape((-1,) + (1,) * (data.ndim - 1)).expand_as(data)
    return out.scatter_reduce_(0, index, data, reduce)[:num_segments]


def _extreme(dtype: torch.dtype, high: bool):
    if dtype.is_floating_point:
        return math.inf if high else -math.inf
    if dtype == torch.bool:
        return high
    info = torch.iinfo(dtype)
    return info.max if high else info.min


@_segments_counted_from_values
@op
def segment_max(data, segment_ids, num_segments=None, sorted: bool = False) -> Tensor:
    """Maxima of the rows of `data` that share a segment id (see
    `segment_sum`); an empty segment gives the dtype's lowest value (`-inf`)."""
    data = to_tensor(data)
    return _segment_reduce(
        "segment_max",
        "amax",
        _extreme(data.dtype, False),
        data,
        segment_ids,
        num_segments,
    )


@_segments_counted_from_values
@op
def segment_min(data, segment_ids, num_segments=None, sorted: bool = False) -> Tensor:
    """Minima of the rows of `data` that share a segment id (see
    `segment_sum`); an empty segment gives the dtype's highest value (`inf`)."""
    data = to_tensor(data)
    return _segment_reduce(
        "segment_min",
        "amin",
        _extreme(data.dtype, True),
        data,
        segment_ids,
        num_segments,
    )


@_segments_counted_from_values
@op
def segment_prod(data, segment_ids, num_segments=None, sorted: bool = False) -> Tensor:
    """Products of the rows of `data` that share a segment id (see
    `segment_sum`); an empty segment gives 1."""
    return _segment_reduce("segment_prod", "prod", 1, data, segment_ids, num_segments)


@op
def erfc(x) -> Tensor:
    """The complementary error function `1 - erf(x)`, accurate for large `x`;
    integers give floatx."""
    return torch.erfc(to_float(to_tensor(x)))


@op
def logdet(x) -> Tensor:
    """`log(det(x))` of square matrices (the last two axes); NaN where the
    determinant is negative."""
    return torch.logdet(to_float(to_tensor(x)))


@op
def cdist(x, y) -> Tensor:
    """Euclidean distances between the rows of `x` `(..., n, d)` and of `y`
    `(..., m, d)`: shape `(..., n, m)`."""
    x, y = to_tensors(x, y)
    if x.ndim < 2 or y.ndim < 2 or x.shape[-1] != y.shape[-1]:
        raise ValueError(
            "ops.cdist expects x of shape (..., n, d) and y of shape (..., m, d) "
            f"(rank >= 2, the same d); got {tuple(x.shape)} and {tuple(y.shape)}."
        )
    x = to_float(x)
    # The exact difference form, not the matmul expansion (which loses digits).
    return torch.cdist(x, y.to(x.dtype), compute_mode="donot_use_mm_for_euclid_dist")


@op
def extract_sequences(x, sequence_length: int, sequence_stride: int) -> Tensor:
    """Frames of `sequence_length` samples every `sequence_stride` samples along
    the last axis: `(..., samples)` becomes `(..., frames, sequence_length)`."""
    x = to_tensor(x)
    for name, value in (
        ("sequence_length", sequence_length),
        ("sequence_stride", sequence_stride),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"ops.extract_sequences expects `{name}` to be a positive int; got "
                f"{name}={value!r}."
            )
    if x.ndim < 1:
        raise ValueError(
            "ops.extract_sequences: Input should have rank >= 1. Received: a "
            f"scalar (shape {tuple(x.shape)}); frames are cut along the last axis."
        )
    return x.unfold(-1, sequence_length, sequence_stride)


# FFTs: complex values travel as (real, imag) pairs


def _check_rank(name: str, x: Tensor, min_rank: int):
    if x.ndim < min_rank:
        raise ValueError(
            f"ops.{name}: Input should have rank >= {min_rank} (the transformed "
            f"axes are the last ones); got shape {tuple(x.shape)}."
        )


def _complex(name: str, x, min_rank: int = 1) -> Tensor:
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(
            f"ops.{name} expects `x` as a pair (real, imag) of float tensors "
            f"(Input `x` should be a tuple of two tensors); got x of type "
            f"{type(x).__name__}"
            + (f" of length {len(x)}." if isinstance(x, (tuple, list)) else ".")
        )
    real, imag = to_tensors(x[0], x[1])
    if real.shape != imag.shape:
        raise ValueError(
            f"ops.{name} expects the real and imaginary parts of the same shape "
            f"(Both the real and imaginary parts should have the same shape); "
            f"got {tuple(real.shape)} and {tuple(imag.shape)}."
        )
    _check_rank(name, real, min_rank)
    if not real.is_floating_point() or not imag.is_floating_point():
        raise ValueError(
            f"ops.{name} expects float real and imaginary parts; got dtypes "
            f"{real.dtype} and {imag.dtype}."
        )
    return torch.complex(real, imag)


def _pair(z: Tensor):
    return z.real, z.imag


@op
def fft(x):
    """Discrete Fourier transform along the last axis of `x = (real, imag)`."""
    return _pair(torch.fft.fft(_complex("fft", x)))


@op
def fft2(x):
    """2-D discrete Fourier transform over the last two axes of `(real, imag)`."""
    return _pair(torch.fft.fft2(_complex("fft2", x, min_rank=2)))


@op
def ifft2(x):
    """Inverse of `fft2`."""
    return _pair(torch.fft.ifft2(_complex("ifft2", x, min_rank=2)))


@op
def rfft(x, fft_length=None):
    """FFT of a real `x` along its last axis, keeping the `fft_length // 2 + 1`
    non-redundant frequencies; returns `(real, imag)`."""
    x = to_float(to_tensor(x))
    _check_rank("rfft", x, 1)
    return _pair(torch.fft.rfft(x, n=fft_length, dim=-1))


@op
def irfft(x, fft_length=None) -> Tensor:
    """Inverse of `rfft`: a real signal of `fft_length` samples (defaults to
    `2 * (bins - 1)`) from `(real, imag)`."""
    return torch.fft.irfft(_complex("irfft", x), n=fft_length, dim=-1)


def _check_stride(name: str, sequence_stride):
    if (
        isinstance(sequence_stride, bool)
        or not isinstance(sequence_stride, int)
        or sequence_stride < 1
    ):
        raise ValueError(
            f"ops.{name}: `sequence_stride` must be a positive integer (the hop "
            f"between frames, in samples); got sequence_stride={sequence_stride!r}."
        )


def _window(name: str, window, length: int, dtype, device):
    if window is None:
        return torch.ones(length, dtype=dtype, device=device)
    if isinstance(window, str):
        makers = {"hann": torch.hann_window, "hamming": torch.hamming_window}
        if window not in makers:
            raise ValueError(
                f"ops.{name} expects window='hann', 'hamming', None or a 1-D "
                "tensor. If a string is passed to `window`, it must be 'hann' or "
                f"'hamming'; got window={window!r}."
            )
        return makers[window](length, periodic=True, dtype=dtype, device=device)
    window = to_tensor(window, device=device).to(dtype)
    if window.shape != (length,):
        raise ValueError(
            f"ops.{name}: The shape of `window` must be equal to "
            f"[sequence_length], ({length},); got shape {tuple(window.shape)}."
        )
    return window


@op
def stft(
    x,
    sequence_length: int,
    sequence_stride: int,
    fft_length: int,
    window="hann",
    center: bool = True,
):
    """Short-time Fourier transform along the last axis of a float32/float64
    `x`: `(..., samples)` gives `(real, imag)` of shape
    `(..., frames, fft_length // 2 + 1)`. With `center`, `x` is
    reflection-padded so frame `t` is centred on sample `t * sequence_stride`.
    """
    x = to_tensor(x)
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(
            "ops.stft expects a float32 or float64 `x` (dtype `float32` or "
            f"`float64`); got dtype {x.dtype}."
        )
    _check_stride("stft", sequence_stride)
    if fft_length < sequence_length:
        raise ValueError(
            "ops.stft: `fft_length` must equal or larger than `sequence_length`; "
            f"got fft_length={fft_length}, sequence_length={sequence_length}."
        )
    win = _window("stft", window, sequence_length, x.dtype, x.device)
    batch_shape, samples = x.shape[:-1], x.shape[-1]
    z = torch.stft(
        x.reshape(-1, samples),
        n_fft=fft_length,
        hop_length=sequence_stride,
        win_length=sequence_length,
        window=win,
        center=center,
        return_complex=True,
    )
    z = z.reshape(batch_shape + z.shape[-2:]).transpose(-2, -1)
    return _pair(z)


def _overlap_add(frames: Tensor, stride: int) -> Tensor:
    """Sums `(..., frames, length)` frames placed every `stride` samples."""
    *batch, count, length = frames.shape
    flat = frames.reshape(-1, count, length).transpose(1, 2)
    size = (count - 1) * stride + length
    out = F.fold(flat, (1, size), (1, length), stride=(1, stride))
    return out.reshape(tuple(batch) + (size,))


@op
def istft(
    x,
    sequence_length: int,
    sequence_stride: int,
    fft_length: int,
    length=None,
    window="hann",
    center: bool = True,
) -> Tensor:
    """Inverse of `stft`: the signal from `(real, imag)` frames
    `(..., frames, fft_length // 2 + 1)`, trimmed to `length` samples if given.
    """
    _check_stride("istft", sequence_stride)
    z = _complex("istft", x, min_rank=2)
    dtype = z.real.dtype
    win = None
    if window is not None:
        win = _window("istft", window, sequence_length, dtype, z.device)
    if sequence_length == fft_length and center and win is not None:
        batch_shape = z.shape[:-2]
        signal = torch.istft(
            z.reshape((-1,) + z.shape[-2:]).transpose(-2, -1),
            n_fft=fft_length,
            hop_length=sequence_stride,
            win_length=sequence_length,
            window=win,
            center=True,
            length=length,
        )
        return signal.reshape(batch_shape + signal.shape[-1:])
    frames = torch.fft.irfft(z, n=fft_length, dim=-1)
    if win is not None:
        # Keras: divide by the steady-state sum of squared windows.
        left = (fft_length - sequence_length) // 2
        win = F.pad(win, (left, fft_length - sequence_length - left))
        overlaps = -(-fft_length // sequence_stride)
        squares = F.pad(win * win, (0, overlaps * sequence_stride - fft_length))
        denominator = squares.reshape(overlaps, sequence_stride).sum(0)
        frames = frames * (win / denominator.repeat(overlaps)[:fft_length])
    signal = _overlap_add(frames, sequence_stride)
    start = fft_length // 2 if center else 0
    if length is not None:
        return signal[..., start : start + length]
    if center:
        return signal[..., start : signal.shape[-1] - fft_length // 2]
    return signal


@op
def view_as_complex(x) -> Tensor:
    """A `(..., 2)` float tensor read as `(...)` complex numbers."""
    x = to_float(to_tensor(x))
    if x.ndim == 0 or x.shape[-1] != 2:
        raise ValueError(
            "ops.view_as_complex: Last dimension of input must be size 2 (real, "
            f"imag); got shape {tuple(x.shape)}."
        )
    return torch.view_as_complex(x.contiguous())


@op
def view_as_real(x) -> Tensor:
    """A complex tensor as floats with a trailing axis of size 2 (real, imag)."""
    x = to_tensor(x)
    if not x.is_complex():
        raise ValueError(
            f"ops.view_as_real expects a complex tensor; got dtype {x.dtype}."
        )
    return torch.view_as_real(x)


__all__ = [
    "cdist",
    "erf",
    "erfc",
    "erfinv",
    "extract_sequences",
    "fft",
    "fft2",
    "ifft2",
    "in_top_k",
    "irfft",
    "istft",
    "logdet",
    "logsumexp",
    "rfft",
    "rsqrt",
    "segment_max",
    "segment_min",
    "segment_prod",
    "segment_sum",
    "stft",
    "top_k",
    "view_as_complex",
    "view_as_real",
]
