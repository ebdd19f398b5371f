"""GaussianDropout: multiply by Gaussian noise of mean 1 while training."""

import math

import torch

from lamina import random
from lamina.layers.layer import Layer
from lamina.layers.regularization.gaussian_noise import _check_unit_interval
from lamina.random.seed_generator import noise_seed_generator


class GaussianDropout(Layer):
    """Multiplies the inputs by noise drawn from
    `N(1, rate / (1 - rate))` while training; identity at inference. The noise
    has the variance of dropout with the same `rate`, without zeroing values.

    Args:
        rate: Drop probability that sets the noise variance, in `[0, 1)`.
            (Keras accepts 1 and then divides by zero while training; lamina
            refuses it up front.)
        seed: Int seed for reproducible noise. Defaults to the global RNG.

    Example:
    >>> x = np.ones((1, 3), "float32")
    >>> lamina.layers.GaussianDropout(0.2)(x).tolist()  # inference: unchanged
    [[1.0, 1.0, 1.0]]
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_unit_interval("GaussianDropout", "rate", rate, False)
        self.seed = seed
        # Keras makes a SeedGenerator(seed) here; unseeded, lamina draws from
        # torch's global generator unless `set_random_seed` asks for Keras's
        # numbers.
        self.seed_generator = noise_seed_generator(seed, self.rate > 0)
        self.supports_masking = True
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        if self.seed_generator is None:
            noise = torch.randn_like(inputs).mul_(stddev).add_(1.0)
        else:
            noise = random.normal(
                tuple(inputs.shape),
                mean=1.0,
                stddev=stddev,
                dtype=self.compute_dtype,
                seed=self.seed_generator,
            ).to(inputs.device)
        return inputs * noise

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
