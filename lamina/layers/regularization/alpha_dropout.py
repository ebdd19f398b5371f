"""AlphaDropout: dropout that keeps the mean and variance of SELU activations."""

import torch

from lamina import random
from lamina.layers.layer import Layer
from lamina.layers.regularization.gaussian_noise import _check_unit_interval
from lamina.random.seed_generator import noise_seed_generator

# SELU's constants (Klambauer et al., 2017); a dropped unit is set to
# -alpha * scale, SELU's negative saturation value.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class AlphaDropout(Layer):
    """Dropout for self-normalizing networks (SELU activations): dropped units
    take SELU's saturation value, then an affine map restores the inputs' mean
    and variance. Active only while training.

    Args:
        rate: Drop probability, in `[0, 1)`. (Keras accepts 1 and then divides
            by zero while training; lamina refuses it up front.)
        noise_shape: Shape of the keep/drop mask, broadcast against the inputs;
            `None` entries take the input's size. Defaults to the input shape.
        seed: Int seed for reproducible masks. Defaults to the global RNG.

    Example:
    >>> x = np.ones((1, 3), "float32")
    >>> lamina.layers.AlphaDropout(0.2)(x).tolist()  # inference: unchanged
    [[1.0, 1.0, 1.0]]
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_unit_interval("AlphaDropout", "rate", rate, False)
        self.noise_shape = noise_shape
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
        shape = tuple(inputs.shape)
        if self.noise_shape is not None:
            shape = tuple(
                shape[i] if d is None else d for i, d in enumerate(self.noise_shape)
            )
        if self.seed_generator is None:
            uniform = torch.rand(shape, device=inputs.device)
        else:
            uniform = random.uniform(shape, seed=self.seed_generator)
            uniform = uniform.to(inputs.device)
        kept = uniform >= self.rate
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        # The affine map a * x + b that restores mean 0 and variance 1.
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        return torch.where(kept, inputs, alpha_p) * a + b

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": self.noise_shape,
        }
