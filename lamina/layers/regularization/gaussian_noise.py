"""GaussianNoise: add zero-mean Gaussian noise while training."""

import torch

from lamina import random
from lamina.layers.layer import Layer
from lamina.random.seed_generator import noise_seed_generator


class GaussianNoise(Layer):
    """Adds noise drawn from `N(0, stddev**2)` to the inputs while training;
    identity at inference. A simple regularizer against overfitting, and a
    form of data augmentation for real-valued inputs.

    Args:
        stddev: Standard deviation of the noise, in `[0, 1]` (as in Keras).
        seed: Int seed for reproducible noise. Defaults to the global RNG.

    Example:
    >>> x = np.zeros((2, 3), "float32")
    >>> lamina.layers.GaussianNoise(0.1)(x).tolist()  # inference: unchanged
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _check_unit_interval("GaussianNoise", "stddev", stddev)
        self.seed = seed
        # Keras makes a SeedGenerator(seed) here; unseeded, lamina draws from
        # torch's global generator unless `set_random_seed` asks for Keras's
        # numbers.
        self.seed_generator = noise_seed_generator(seed, self.stddev > 0)
        self.supports_masking = True
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        if self.seed_generator is None:
            return inputs + torch.randn_like(inputs) * self.stddev
        noise = random.normal(
            tuple(inputs.shape),
            mean=0.0,
            stddev=self.stddev,
            dtype=self.compute_dtype,
            seed=self.seed_generator,
        )
        return inputs + noise.to(inputs.device)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


def _check_unit_interval(who: str, arg: str, value, allow_one: bool = True):
    """`value` if it is a real number in [0, 1] (or [0, 1)); ValueError else."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and 0 <= value <= 1
        and (allow_one or value < 1)
    )
    if not ok:
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(
            f"Invalid value received for argument `{arg}`. Expected a float value "
            f"between 0 and 1. {who} expects `{arg}` to be a number in {interval}; "
            f"got {arg}={value!r}."
        )
    return value
