"""Dropout: zero a random fraction of inputs while training."""

import torch.nn.functional as F

from lamina import random
from lamina.layers.layer import Layer
from lamina.random.seed_generator import skip_default_seed


class Dropout(Layer):
    """Sets inputs to 0 with probability `rate` during training and scales the rest
    by `1 / (1 - rate)`; does nothing at inference.

    Args:
        rate: Fraction of inputs to drop, in `[0, 1]`.
        noise_shape: Shape of the dropout mask, broadcast over the inputs
            (e.g. `(batch, 1, features)` drops the same features at every step).
        seed: Int seed for reproducible masks. Defaults to the global RNG.

    Example:
    >>> x = np.ones((2, 4), "float32")
    >>> lamina.layers.Dropout(0.5)(x).tolist()  # inference: unchanged
    [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(rate, bool)
            or not isinstance(rate, (int, float))
            or not (0 <= rate <= 1)
        ):
            raise ValueError(
                f"Dropout expects `rate` to be a number in [0, 1]; got rate={rate!r}."
            )
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.seed_generator = None if seed is None else random.SeedGenerator(seed)
        if seed is None and self.rate > 0:
            skip_default_seed()  # Keras makes SeedGenerator(None) here
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None and self.seed_generator is None:
            return F.dropout(inputs, self.rate, True)
        noise_shape = self.noise_shape
        if noise_shape is not None:
            noise_shape = tuple(
                inputs.shape[i] if d is None else d for i, d in enumerate(noise_shape)
            )
        return random.dropout(
            inputs, self.rate, noise_shape=noise_shape, seed=self.seed_generator
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": self.noise_shape,
        }
