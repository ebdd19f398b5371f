"""Dropout: zero a random fraction of inputs while training."""

import torch.nn.functional as F

from lamina import random
from lamina.layers.layer import Layer
from lamina.random.seed_generator import noise_seed_generator


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
                "Invalid value received for argument `rate`. Expected a float "
                "value between 0 and 1. Dropout expects `rate` to be a number in "
                f"[0, 1]; got rate={rate!r}."
            )
        self.rate = float(rate)
        self.noise_shape = _check_noise_shape(noise_shape)
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
        generator = self.seed_generator
        if self.noise_shape is None and (
            generator is None or generator._initial_seed is None
        ):
            # Unseeded, as in Keras: torch's dropout kernel, global generator.
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


def _check_noise_shape(noise_shape):
    """`noise_shape` as a tuple of positive ints or None (Keras's checks)."""
    if noise_shape is None:
        return None
    try:
        if isinstance(noise_shape, str):
            raise TypeError
        dims = tuple(noise_shape)
    except TypeError:
        raise ValueError(
            "Invalid value received for argument `noise_shape`. Expected a tuple "
            "or list of integers. Dropout expects `noise_shape` to be a tuple or "
            "list of integers (None for an axis of the input's size); got "
            f"noise_shape={noise_shape!r}."
        ) from None
    for dim in dims:
        if dim is not None and (
            isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0
        ):
            expected = (
                "all dimensions to be positive integers or None"
                if isinstance(dim, int) and not isinstance(dim, bool)
                else "all elements to be integers or None"
            )
            raise ValueError(
                "Invalid value received for argument `noise_shape`. Expected "
                f"{expected}. Dropout expects `noise_shape` to hold positive "
                f"integers or None; got noise_shape={noise_shape!r}."
            )
    return dims
