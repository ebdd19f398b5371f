"""RandomPosterization: keep only the top bits of each 8-bit pixel value."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
    check_value_range,
    transform_value_range,
)

_MAX_BITS = 8


class RandomPosterization(BaseImagePreprocessingLayer):
    """Reduces each image to `b` bits per channel while training.

    Pixels are mapped to `[0, 255]`, truncated to 8-bit integers, their lowest
    `8 - b` bits cleared, and mapped back to `value_range`. Per image `b` is
    drawn as Keras draws it: an integer in `[lower, upper)` of `factor` (so the
    upper bound itself is never drawn), or exactly `lower` when both are equal.

    Args:
        factor: An int `f` in `[1, 8]` (bits in `[1, f)`) or a pair `(lower,
            upper)` within `[1, 8]`.
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: Int seed for reproducible bit depths.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype. At inference the input is returned unchanged.

    Example:
    >>> layer = lamina.layers.RandomPosterization((1, 1))
    >>> layer(np.array([[[[200.0, 100.0]]]], "float32"), training=True).tolist()
    [[[[128.0, 0.0]]]]
    """

    _DICT_PARTS = COLOUR_ONLY

    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (1, 8)

    def __init__(
        self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs
    ):
        super().__init__(data_format=data_format, **kwargs)
        self._set_factor(factor)
        self.value_range = check_value_range("RandomPosterization", value_range)
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        seed = self.generator if seed is None else seed
        shape = (data.shape[0],)
        low, high = int(self.factor[0]), int(self.factor[1])
        if low != high and data.device.type != "meta":
            bits = random.randint(shape, low, high, dtype="uint8", seed=seed)
        else:
            bits = torch.full(shape, low, dtype=torch.uint8)
        return {"shift_factor": (_MAX_BITS - bits.to(data.device)).to(torch.uint8)}

    def transform_images(self, images, transformation=None, training=True):
        if not training:
            return images
        dtype = self._compute_torch_dtype
        shift = transformation["shift_factor"].to(images.device).reshape(-1, 1, 1, 1)
        images = transform_value_range(images.to(dtype), self.value_range, (0, 255))
        # Keras casts to uint8 (truncating, wrapping out-of-range values).
        images = images.to(torch.int64).to(torch.uint8)
        images = torch.bitwise_left_shift(
            torch.bitwise_right_shift(images, shift), shift
        )
        return transform_value_range(images.to(dtype), (0, 255), self.value_range)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": self.value_range,
            "seed": self.seed,
        }
