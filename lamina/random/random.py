"""Random tensors (`keras.random`): normal, uniform, dropout, shuffle, ...

Seeding follows Keras 3. An int seed gives the same numbers on every call; a
`SeedGenerator` gives new numbers per call, reproducibly; `None` uses torch's
global generator (so `torch.manual_seed` makes runs repeatable), or, after
`lamina.utils.set_random_seed`, Keras's global `SeedGenerator`, so that an
unseeded call gives the same numbers as Keras 3 on torch.

Seeded draws run on a CPU `torch.Generator` seeded with `(seed + counter) mod
2**32`, exactly as Keras's PyTorch backend seeds its generator, and are then
moved to the device. The same seed therefore gives the same numbers on every
device, and on CPU the same numbers as Keras with `KERAS_BACKEND=torch`.
Unseeded draws are made directly on the device.
"""

import functools
import numbers
import sys

import torch
import torch.nn.functional as F

from lamina.backend import (
    convert_to_tensor,
    floatx,
    get_device,
    standardize_dtype,
    to_torch_dtype,
)
from lamina.backend.tensors import host_to_device
from lamina.random.seed_generator import (
    SeedGenerator,
    _keras_seed_order,
    draw_seed,
    global_draw_seed,
)


def _eager_only(fn):
    """`torch.compiler.disable(fn)`, applied on first use once torch.compile is in
    play: importing torch._dynamo at import time costs ~0.9 s, and without it
    loaded nothing is being compiled."""
    disabled = None

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        nonlocal disabled
        if disabled is None:
            if "torch._dynamo" not in sys.modules:
                return fn(*args, **kwargs)
            disabled = torch.compiler.disable(fn)
        return disabled(*args, **kwargs)

    return wrapper


_CPU = torch.device("cpu")


# 1. Plumbing shared by every distribution


def _shape(shape, who: str) -> tuple:
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"{who} expects `shape` to be a tuple of ints; got shape={shape!r}. "
            "Write, for example, shape=(2, 3)."
        ) from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{who} expects non-negative dimensions; got shape={shape!r}.")
    return dims


def _check_seed(seed) -> None:
    if seed is None or isinstance(seed, SeedGenerator):
        return
    if isinstance(seed, bool) or not isinstance(seed, int):
        draw_seed(seed)  # raises the standard ValueError


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if tensor.device == device:
        return tensor
    return host_to_device(tensor, device)


def _draw(sample, seed, device: torch.device) -> torch.Tensor:
    """`sample(generator, device)` with the generator `seed` calls for.

    Unseeded (or on the `meta` device, used for shape inference) the sample is
    made on `device` by torch's global generator; seeded, on a freshly seeded
    CPU generator, then moved to `device`.
    """
    _check_seed(seed)
    if seed is None or device.type == "meta":
        # Keras does not advance a SeedGenerator while inferring shapes either.
        return sample(None, device)
    return _draw_seeded(sample, seed, device)


@_eager_only
def _draw_seeded(sample, seed, device: torch.device) -> torch.Tensor:
    # Kept out of torch.compile graphs: the generator's counter is Python state.
    generator = torch.Generator(device=_CPU)
    generator.manual_seed(draw_seed(seed))
    return _to_device(sample(generator, _CPU), device)


@_eager_only
def _draw_with_global_cpu_seed(sample, seed, device: torch.device) -> torch.Tensor:
    # torch.distributions samplers take no generator: seed the global CPU one
    # inside a fork so the caller's RNG state is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(draw_seed(seed))
        out = sample(_CPU)
    return _to_device(out, device)


def _float_dtype(dtype, who: str) -> torch.dtype:
    name = standardize_dtype(dtype or floatx())
    if name not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(
            f"{who} requires a floating point `dtype`; got dtype={dtype!r}. "
            "Use dtype='float32' (or leave it unset for floatx())."
        )
    return to_torch_dtype(name)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real)


# 2. Continuous distributions


def _normal(shape, mean, stddev, dtype, seed, device) -> torch.Tensor:
    shape = _shape(shape, "lamina.random.normal")
    dtype = _float_dtype(dtype, "lamina.random.normal")
    if _is_number(mean) and _is_number(stddev):

        def sample(generator, dev):
            return torch.normal(
                float(mean),
                float(stddev),
                size=shape,
                generator=generator,
                dtype=dtype,
                device=dev,
            )

        return _draw(sample, seed, device)
    z = _normal(shape, 0.0, 1.0, dtype, seed, device)
    return z * convert_to_tensor(stddev, device=device) + convert_to_tensor(
        mean, device=device
    )


def _uniform(shape, minval, maxval, dtype, seed, device) -> torch.Tensor:
    shape = _shape(shape, "lamina.random.uniform")
    dtype = _float_dtype(dtype, "lamina.random.uniform")
    numeric = _is_number(minval) and _is_number(maxval)

    def sample(generator, dev):
        unit = torch.rand(size=shape, generator=generator, dtype=dtype, device=dev)
        if numeric:
            # Keras's formula and order of operations, for identical numbers.
            return (maxval - minval) * unit + minval
        return unit

    out = _draw(sample, seed, device)
    if numeric:
        return out
    low = convert_to_tensor(minval, device=device)
    high = convert_to_tensor(maxval, device=device)
    return (high - low) * out + low


def _truncated_normal(shape, mean, stddev, dtype, seed, device) -> torch.Tensor:
    shape = _shape(shape, "lamina.random.truncated_normal")
    dtype = _float_dtype(dtype, "lamina.random.truncated_normal")

    def sample(generator, dev):
        # Keras's sampler: four standard-normal candidates per value, keep the
        # first within two standard deviations.
        candidates = torch.normal(
            0.0,
            1.0,
            size=shape + (4,),
            generator=generator,
            dtype=dtype,
            device=dev,
        )
        valid = (candidates > -2) & (candidates < 2)
        first = valid.to(torch.uint8).argmax(dim=-1, keepdim=True)
        # When all four fall outside (p ~ 4e-6 per value) Keras keeps the
        # first candidate as it is; so does lamina, so that a seed gives
        # Keras's numbers exactly (a large kernel holds a few such values).
        z = candidates.gather(-1, first).squeeze(-1)
        if _is_number(mean) and _is_number(stddev):
            return z * stddev + mean
        return z

    out = _draw(sample, seed, device)
    if _is_number(mean) and _is_number(stddev):
        return out
    return out * convert_to_tensor(stddev, device=device) + convert_to_tensor(
        mean, device=device
    )


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> torch.Tensor:
    """Samples from a normal (Gaussian) distribution.

    Args:
        shape: Shape of the result, a tuple of ints.
        mean: Mean of the distribution. Defaults to `0.0`.
        stddev: Standard deviation. Defaults to `1.0`.
        dtype: A float dtype. Defaults to `floatx()`.
        seed: An int (same numbers on every call), a `SeedGenerator` (new
            numbers per call) or `None`: torch's global generator, or after
            `lamina.utils.set_random_seed` a global `SeedGenerator`, as Keras.

    Returns:
        A tensor on `lamina.backend.get_device()`.
    """
    device = get_device()
    seed = global_draw_seed(seed, device)
    return _normal(shape, mean, stddev, dtype, seed, device)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> torch.Tensor:
    """Samples from a uniform distribution over `[minval, maxval)`.

    Args:
        shape: Shape of the result, a tuple of ints.
        minval: Inclusive lower bound. Defaults to `0.0`.
        maxval: Exclusive upper bound. Defaults to `1.0`.
        dtype: A float dtype. Defaults to `floatx()`.
        seed: An int, a `SeedGenerator` or `None` (see `normal`).

    Returns:
        A tensor on `lamina.backend.get_device()`.

    Raises:
        ValueError: If `dtype` is not a float dtype.
    """
    device = get_device()
    seed = global_draw_seed(seed, device)
    return _uniform(shape, minval, maxval, dtype, seed, device)


def truncated_normal(
    shape, mean=0.0, stddev=1.0, dtype=None, seed=None
) -> torch.Tensor:
    """Samples from a normal distribution truncated to two standard deviations.

    Each value is the first of four normal draws within two standard
    deviations of the mean, as Keras samples it; in the rare case (about 4 in
    a million values) that none of the four is, the first is kept as it is.

    Args:
        shape: Shape of the result, a tuple of ints.
        mean: Mean of the untruncated distribution. Defaults to `0.0`.
        stddev: Its standard deviation. Defaults to `1.0`.
        dtype: A float dtype. Defaults to `floatx()`.
        seed: An int, a `SeedGenerator` or `None` (see `normal`).

    Returns:
        A tensor on `lamina.backend.get_device()`, values (all but about 4 in
        a million) in `[mean - 2 * stddev, mean + 2 * stddev]`.
    """
    device = get_device()
    seed = global_draw_seed(seed, device)
    return _truncated_normal(shape, mean, stddev, dtype, seed, device)


def randint(shape, minval, maxval, dtype="int32", seed=None) -> torch.Tensor:
    """Samples integers uniformly from `[minval, maxval)`.

    Args:
        shape: Shape of the result, a tuple of ints.
        minval: Inclusive lower bound, an int.
        maxval: Exclusive upper bound, an int.
        dtype: An integer dtype. Defaults to `"int32"`.
        seed: An int, a `SeedGenerator` or `None` (see `normal`).

    Returns:
        A tensor on `lamina.backend.get_device()`.

    Raises:
        ValueError: If `dtype` is not an integer dtype.
    """
    shape = _shape(shape, "lamina.random.randint")
    name = standardize_dtype(dtype)
    if not (name.startswith("int") or name.startswith("uint")):
        raise ValueError(
            f"lamina.random.randint requires an integer `dtype`; got "
            f"dtype={dtype!r}. Use dtype='int32'."
        )
    torch_dtype = to_torch_dtype(name)

    def sample(generator, dev):
        return torch.randint(
            int(minval),
            int(maxval),
            size=shape,
            generator=generator,
            dtype=torch_dtype,
            device=dev,
        )

    device = get_device()
    return _draw(sample, global_draw_seed(seed, device), device)


# 3. Functions of an input tensor


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else convert_to_tensor(x)


def _is_unseeded(seed) -> bool:
    return seed is None or (
        isinstance(seed, SeedGenerator) and seed._initial_seed is None
    )


def dropout(inputs, rate, noise_shape=None, seed=None) -> torch.Tensor:
    """Zeroes entries with probability `rate` and scales the rest by `1/(1-rate)`.

    Args:
        inputs: The tensor to drop entries from.
        rate: Drop probability, a float in `[0, 1]`.
        noise_shape: Shape of the keep/drop mask, broadcast against `inputs`;
            `None` entries take the input's size. Defaults to the input shape.
        seed: An int, a `SeedGenerator` or `None`. Unseeded (including a
            `SeedGenerator(seed=None)`) without `noise_shape`, this is
            `torch.nn.functional.dropout`, as in Keras.

    Returns:
        A tensor shaped and placed like `inputs`.
    """
    inputs = _as_tensor(inputs)
    if _is_number(rate) and not 0.0 <= rate <= 1.0:
        raise ValueError(
            f"lamina.random.dropout expects `rate` in [0, 1]; got rate={rate!r}."
        )
    if _is_number(rate) and rate == 1.0:
        return torch.zeros_like(inputs)
    if _is_number(rate) and rate == 0.0:
        return inputs
    if _is_unseeded(seed) and noise_shape is None:
        return F.dropout(inputs, p=float(rate), training=True)
    keep_prob = 1.0 - rate
    if noise_shape is None:
        mask_shape = tuple(inputs.shape)
    else:
        mask_shape = tuple(
            inputs.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape)
        )

    def sample(generator, dev):
        probs = torch.full(mask_shape, keep_prob, device=dev)
        return torch.bernoulli(probs, generator=generator).bool()

    if seed is None:  # with a noise_shape; Keras: the global generator
        seed = global_draw_seed(seed, inputs.device)
    if _is_unseeded(seed) and not _keras_seed_order():
        seed = None  # torch's global generator; Keras draws from the generator
    mask = _draw(sample, seed, inputs.device)
    mask = torch.broadcast_to(mask, inputs.shape)
    return torch.where(mask, inputs / keep_prob, torch.zeros_like(inputs))


def shuffle(x, axis=0, seed=None) -> torch.Tensor:
    """Shuffles `x` along `axis`, independently for each index of earlier axes.

    Args:
        x: The tensor to shuffle.
        axis: Axis to shuffle along. Defaults to `0`.
        seed: An int, a `SeedGenerator` or `None` (see `normal`).

    Returns:
        A tensor shaped and placed like `x`.
    """
    x = _as_tensor(x)
    if not -x.ndim <= axis < max(x.ndim, 1):
        raise ValueError(
            f"lamina.random.shuffle got axis={axis} for a tensor of rank {x.ndim}; "
            f"expected an axis in [{-x.ndim}, {x.ndim})."
        )
    axis = axis % x.ndim
    lead = tuple(x.shape[: axis + 1])

    def sample(generator, dev):
        # Keras's method: argsort of uniform keys gives a uniform permutation.
        keys = torch.rand(lead, generator=generator, device=dev)
        return keys.argsort(dim=axis)

    perm = _draw(sample, global_draw_seed(seed, x.device), x.device)
    perm = perm.reshape(lead + (1,) * (x.ndim - axis - 1)).expand(x.shape)
    return x.gather(axis, perm)


def categorical(logits, num_samples, dtype="int32", seed=None) -> torch.Tensor:
    """Draws class indices from the categorical distributions given by `logits`.

    Args:
        logits: Tensor of shape `(batch, num_classes)`, unnormalized
            log-probabilities per row.
        num_samples: Number of draws per row.
        dtype: Integer dtype of the result. Defaults to `"int32"`.
        seed: An int, a `SeedGenerator` or `None`. Seeded draws use a
            generator on the logits' device (as Keras does), so the logits
            never leave the device.

    Returns:
        A tensor of shape `(batch, num_samples)` on the logits' device.
    """
    logits = _as_tensor(logits)
    if logits.ndim != 2:
        raise ValueError(
            "lamina.random.categorical expects `logits` of shape (batch_size, "
            f"num_classes); got shape {tuple(logits.shape)}. Add a batch axis "
            "with logits[None] for a single distribution."
        )
    _check_seed(seed)
    torch_dtype = to_torch_dtype(dtype)
    probs = torch.softmax(logits, dim=-1)
    seed = global_draw_seed(seed, probs.device)
    if seed is None or probs.device.type == "meta":
        samples = torch.multinomial(probs, int(num_samples), replacement=True)
    else:
        samples = _categorical_seeded(probs, int(num_samples), seed)
    return samples.to(torch_dtype)


@_eager_only
def _categorical_seeded(probs, num_samples, seed) -> torch.Tensor:
    generator = torch.Generator(device=probs.device)
    generator.manual_seed(draw_seed(seed))
    return torch.multinomial(probs, num_samples, replacement=True, generator=generator)


# 4. Distributions sampled through torch.distributions


def _distribution_sample(make, shape, dtype, seed, who) -> torch.Tensor:
    shape = _shape(shape, who)
    torch_dtype = _float_dtype(dtype, who)
    device = get_device()
    _check_seed(seed)
    seed = global_draw_seed(seed, device)

    def sample(dev):
        return make(shape, dev).sample().to(torch_dtype)

    if seed is None or device.type == "meta":
        return sample(device)
    return _draw_with_global_cpu_seed(sample, seed, device)


def _param(value, shape, dev) -> torch.Tensor:
    tensor = convert_to_tensor(value, device=dev)
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.float32)
    return torch.broadcast_to(tensor, shape)


def gamma(shape, alpha, dtype=None, seed=None) -> torch.Tensor:
    """Samples from a Gamma distribution with concentration `alpha` and rate 1.

    Args:
        shape: Shape of the result, a tuple of ints.
        alpha: Concentration, a float or an array broadcastable to `shape`.
        dtype: A float dtype. Defaults to `floatx()`.
        seed: An int, a `SeedGenerator` or `None` (see `normal`).

    Returns:
        A tensor on `lamina.backend.get_device()`.
    """

    def make(shp, dev):
        return torch.distributions.Gamma(
            _param(alpha, shp, dev), torch.ones(shp, device=dev)
        )

    return _distribution_sample(make, shape, dtype, seed, "lamina.random.gamma")


def binomial(shape, counts, probabilities, dtype=None, seed=None) -> torch.Tensor:
    """Samples success counts of `counts` trials with success `probabilities`.

    Args:
        shape: Shape of the result, a tuple of ints.
        counts: Number of trials, broadcastable to `shape`.
        probabilities: Success probability per trial, broadcastable to `shape`.
        dtype: A float dtype. Defaults to `floatx()`.
        seed: An int, a `SeedGenerator` or `None` (see `normal`).

    Returns:
        A tensor on `lamina.backend.get_device()`.
    """

    def make(shp, dev):
        return torch.distributions.Binomial(
            total_count=_param(counts, shp, dev), probs=_param(probabilities, shp, dev)
        )

    return _distribution_sample(make, shape, dtype, seed, "lamina.random.binomial")


def beta(shape, alpha, beta, dtype=None, seed=None) -> torch.Tensor:
    """Samples from a Beta distribution with parameters `alpha` and `beta`.

    Args:
        shape: Shape of the result, a tuple of ints.
        alpha: First concentration, broadcastable to `shape`.
        beta: Second concentration, broadcastable to `shape`.
        dtype: A float dtype. Defaults to `floatx()`.
        seed: An int, a `SeedGenerator` or `None` (see `normal`).

    Returns:
        A tensor on `lamina.backend.get_device()`.
    """

    def make(shp, dev):
        return torch.distributions.Beta(
            concentration1=_param(alpha, shp, dev),
            concentration0=_param(beta, shp, dev),
        )

    return _distribution_sample(make, shape, dtype, seed, "lamina.random.beta")
