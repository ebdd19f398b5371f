"""Random initializers: normal, uniform, truncated normal, variance scaling, orthogonal.

Seeds follow Keras 3: an int seed, or no seed, gives the same values on every
call of one initializer (an unseeded one draws its seed once, at construction,
from torch's global generator, so `torch.manual_seed` makes models
reproducible); a `SeedGenerator` gives new values per call. Values are drawn on
the CPU, exactly as `lamina.random` draws them.
"""

import math

import torch

from lamina.backend import standardize_dtype, to_torch_dtype
from lamina.initializers.initializer import Initializer, standardize_shape
from lamina.random.random import _normal, _truncated_normal, _uniform
from lamina.random.seed_generator import SeedGenerator, make_default_seed
from lamina.saving import serialization_lib

_CPU = torch.device("cpu")

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it
# gives the truncated samples the intended standard deviation (Keras's constant).
_TRUNCATED_STDDEV = 0.87962566103423978


def _serialize_seed(seed):
    if isinstance(seed, SeedGenerator):
        return {
            "module": "keras.random",
            "class_name": "SeedGenerator",
            "config": seed.get_config(),
            "registered_name": None,
        }
    return seed


class RandomInitializer(Initializer):
    """Base class of initializers that draw random values.

    Args:
        seed: An int, a `SeedGenerator`, its serialized config dict, or
            `None` (a seed is drawn once from torch's global generator).
    """

    def __init__(self, seed=None):
        self._init_seed = seed
        if seed is None:
            seed = make_default_seed()
        elif isinstance(seed, dict):
            seed = serialization_lib.deserialize_keras_object(
                seed, module_objects={"SeedGenerator": SeedGenerator}, kind="seed"
            )
            self._init_seed = seed
        if isinstance(seed, bool) or not isinstance(seed, (int, SeedGenerator)):
            raise ValueError(
                f"{type(self).__name__} expects `seed` to be an int, a "
                f"lamina.random.SeedGenerator or None; got seed={seed!r}. "
                "Write, for example, seed=42."
            )
        self.seed = seed

    def get_config(self) -> dict:
        return {"seed": _serialize_seed(self._init_seed)}


class RandomNormal(RandomInitializer):
    """Draws from a normal distribution.

    Args:
        mean: Mean of the values. Defaults to `0.0`.
        stddev: Standard deviation of the values. Defaults to `0.05`.
        seed: An int, a `SeedGenerator` or `None`. Defaults to `None`.

    Example:
    >>> from lamina import initializers
    >>> tuple(initializers.RandomNormal(stddev=1.0, seed=1)((3, 4)).shape)
    (3, 4)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        shape = standardize_shape(shape, "RandomNormal")
        return _normal(shape, self.mean, self.stddev, dtype, self.seed, _CPU)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Draws from a normal distribution cut off at two standard deviations.

    Values further than `2 * stddev` from the mean are redrawn, up to three
    times (as in Keras; about 4 in a million values keep their first draw).

    Args:
        mean: Mean of the untruncated distribution. Defaults to `0.0`.
        stddev: Its standard deviation. Defaults to `0.05`.
        seed: An int, a `SeedGenerator` or `None`. Defaults to `None`.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        shape = standardize_shape(shape, "TruncatedNormal")
        return _truncated_normal(shape, self.mean, self.stddev, dtype, self.seed, _CPU)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Draws uniformly from `[minval, maxval)`.

    Args:
        minval: Inclusive lower bound. Defaults to `-0.05`.
        maxval: Exclusive upper bound. Defaults to `0.05`.
        seed: An int, a `SeedGenerator` or `None`. Defaults to `None`.
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        shape = standardize_shape(shape, "RandomUniform")
        return _uniform(shape, self.minval, self.maxval, dtype, self.seed, _CPU)

    def get_config(self) -> dict:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple:
    """`(fan_in, fan_out)` of a weight shape, as Keras counts them.

    A kernel is laid out `(..., fan_in_units, fan_out_units)`; the leading
    axes form the receptive field, whose size multiplies both fans. A vector
    has `fan_in = fan_out = len`; a scalar has both equal to 1.

    Args:
        shape: The weight shape.
        input_axes: Optional axes whose sizes multiply to `fan_in`.
        output_axes: Optional axes whose sizes multiply to `fan_out`
            (used only together with `input_axes`).
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(
            shape[a] for a in output_axes
        )
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    receptive_field = math.prod(shape[:-2])
    return int(shape[-2] * receptive_field), int(shape[-1] * receptive_field)


class VarianceScaling(RandomInitializer):
    """Draws values whose variance is `scale / n`, `n` set by the weight's shape.

    `n` is `fan_in`, `fan_out` or their mean (see `compute_fans`). With
    `"truncated_normal"` values come from a normal distribution truncated at
    two standard deviations and rescaled so that their standard deviation is
    `sqrt(scale / n)`; `"untruncated_normal"` uses a plain normal;
    `"uniform"` draws from `[-limit, limit]` with `limit = sqrt(3 * scale / n)`.

    Args:
        scale: Positive scaling factor. Defaults to `1.0`.
        mode: `"fan_in"`, `"fan_out"` or `"fan_avg"`. Defaults to `"fan_in"`.
        distribution: `"truncated_normal"` (alias `"normal"`),
            `"untruncated_normal"` or `"uniform"`. Defaults to
            `"truncated_normal"`.
        seed: An int, a `SeedGenerator` or `None`. Defaults to `None`.
        input_axes: Optional axes that count toward `fan_in`.
        output_axes: Optional axes that count toward `fan_out`.
    """

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        if scale <= 0.0:
            raise ValueError(
                "Argument `scale` must be positive float. VarianceScaling expects "
                f"a positive `scale`; got scale={scale!r}."
            )
        modes = ("fan_in", "fan_out", "fan_avg")
        if mode not in modes:
            raise ValueError(
                f"Invalid `mode` argument: VarianceScaling expects `mode` to be "
                f"one of {modes}; got mode={mode!r}."
            )
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        distributions = ("truncated_normal", "untruncated_normal", "uniform")
        if distribution not in distributions:
            raise ValueError(
                "Invalid `distribution` argument: VarianceScaling expects "
                f"`distribution` to be one of {distributions}; got "
                f"distribution={distribution!r}."
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        shape = standardize_shape(shape, type(self).__name__)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        if self.mode == "fan_in":
            n = fan_in
        elif self.mode == "fan_out":
            n = fan_out
        else:
            n = (fan_in + fan_out) / 2.0
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / _TRUNCATED_STDDEV
            return _truncated_normal(shape, 0.0, stddev, dtype, self.seed, _CPU)
        if self.distribution == "untruncated_normal":
            return _normal(shape, 0.0, math.sqrt(scale), dtype, self.seed, _CPU)
        limit = math.sqrt(3.0 * scale)
        return _uniform(shape, -limit, limit, dtype, self.seed, _CPU)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _PresetVarianceScaling(VarianceScaling):
    # Keras presets: only the seed and the fan axes are configurable.
    _preset = {}

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(
            **self._preset, seed=seed, input_axes=input_axes, output_axes=output_axes
        )

    def get_config(self) -> dict:
        return {
            "seed": _serialize_seed(self._init_seed),
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class GlorotUniform(_PresetVarianceScaling):
    """Glorot (Xavier) uniform: draws from `[-limit, limit]`.

    `limit = sqrt(6 / (fan_in + fan_out))`. The default kernel initializer of
    Keras layers.

    Args:
        seed: An int, a `SeedGenerator` or `None`. Defaults to `None`.
        input_axes: Optional axes that count toward `fan_in`.
        output_axes: Optional axes that count toward `fan_out`.
    """

    _preset = {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform"}


class GlorotNormal(_PresetVarianceScaling):
    """Glorot (Xavier) normal: truncated normal with the stddev below.

    `stddev = sqrt(2 / (fan_in + fan_out))`, after truncation.

    Args:
        seed: An int, a `SeedGenerator` or `None`. Defaults to `None`.
        input_axes: Optional axes that count toward `fan_in`.
        output_axes: Optional axes that count toward `fan_out`.
    """

    _preset = {"scale": 1.0, "mode": "fan_avg", "distribution": "truncated_normal"}


class LecunNormal(_PresetVarianceScaling):
    """LeCun normal: truncated normal with `stddev = sqrt(1 / fan_in)`.

    Args:
        seed: An int, a `SeedGenerator` or `None`. Defaults to `None`.
        input_axes: Optional axes that count toward `fan_in`.
        output_axes: Optional axes that count toward `fan_out`.
    """

    _preset = {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"}


class LecunUniform(_PresetVarianceScaling):
    """LeCun uniform: `[-limit, limit]` with `limit = sqrt(3 / fan_in)`.

    Args:
        seed: An int, a `SeedGenerator` or `None`. Defaults to `None`.
        input_axes: Optional axes that count toward `fan_in`.
        output_axes: Optional axes that count toward `fan_out`.
    """

    _preset = {"scale": 1.0, "mode": "fan_in", "distribution": "uniform"}


class HeNormal(_PresetVarianceScaling):
    """He normal: truncated normal with `stddev = sqrt(2 / fan_in)`.

    Args:
        seed: An int, a `SeedGenerator` or `None`. Defaults to `None`.
        input_axes: Optional axes that count toward `fan_in`.
        output_axes: Optional axes that count toward `fan_out`.
    """

    _preset = {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal"}


class HeUniform(_PresetVarianceScaling):
    """He uniform: `[-limit, limit]` with `limit = sqrt(6 / fan_in)`.

    Args:
        seed: An int, a `SeedGenerator` or `None`. Defaults to `None`.
        input_axes: Optional axes that count toward `fan_in`.
        output_axes: Optional axes that count toward `fan_out`.
    """

    _preset = {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}


class Orthogonal(RandomInitializer):
    """Fills the weight with a (semi-)orthogonal matrix times `gain`.

    The weight is viewed as a matrix of `prod(shape[:-1])` rows and
    `shape[-1]` columns. A normal random matrix is QR-decomposed and the sign
    of each column of Q fixed by the diagonal of R, so the result is uniformly
    distributed over orthogonal matrices: orthonormal columns when there are
    at least as many rows as columns, orthonormal rows otherwise.

    Args:
        gain: Factor applied to the matrix. Defaults to `1.0`.
        seed: An int, a `SeedGenerator` or `None`. Defaults to `None`.

    Example:
    >>> import torch
    >>> from lamina import initializers
    >>> q = initializers.Orthogonal(seed=0)((4, 4))
    >>> bool(torch.allclose(q.T @ q, torch.eye(4), atol=1e-5))
    True
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        shape = standardize_shape(shape, "Orthogonal")
        if len(shape) < 2:
            raise ValueError(
                "Orthogonal fills weights of rank 2 or more; got shape "
                f"{shape} of rank {len(shape)}. Use RandomNormal for vectors."
            )
        dtype_name = standardize_dtype(dtype)
        # QR needs float32/float64 on the CPU; half precision is cast at the end.
        work_dtype = "float64" if dtype_name == "float64" else "float32"
        num_rows = math.prod(shape[:-1])
        num_cols = shape[-1]
        flat_shape = (max(num_rows, num_cols), min(num_rows, num_cols))
        a = _normal(flat_shape, 0.0, 1.0, work_dtype, self.seed, _CPU)
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))
        if num_rows < num_cols:
            q = q.T
        return (self.gain * q.reshape(shape)).to(to_torch_dtype(dtype_name))

    def get_config(self) -> dict:
        return {**super().get_config(), "gain": self.gain}
