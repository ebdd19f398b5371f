"""Solarization: invert the pixels above a threshold (after an optional lift)."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
    check_probability_factor,
    check_value_range,
    transform_value_range,
)
from lamina.random.random import _uniform


class Solarization(BaseImagePreprocessingLayer):
    """Solarizes images while training: on the `[0, 255]` scale, each pixel
    `y = clip(x + addition, 0, 255)` becomes `255 - y` where `y >= threshold`.

    Per image `addition` is drawn uniformly from `[lower, upper * 255]` of
    `addition_factor`, and `threshold` likewise from `threshold_factor`.
    With both factors 0 (the defaults) every pixel is inverted.

    Args:
        addition_factor: A number `f` (meaning `(0, f)`) or a pair within
            `[0, 1]`. Defaults to 0.
        threshold_factor: Same form. Defaults to 0.
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        seed: Int seed for reproducible draws.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype. At inference the input is returned in the compute dtype.

    Example:
    >>> layer = lamina.layers.Solarization(value_range=(0, 1))
    >>> layer(np.full((1, 1, 1, 1), 0.25, "float32"), training=True).item()
    0.75
    """

    _DICT_PARTS = COLOUR_ONLY

    _USE_BASE_FACTOR = False

    def __init__(
        self,
        addition_factor=0.0,
        threshold_factor=0.0,
        value_range=(0, 255),
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = random.SeedGenerator(seed)
        self.addition_factor = check_probability_factor(
            "Solarization", "addition_factor", addition_factor
        )
        self.threshold_factor = check_probability_factor(
            "Solarization", "threshold_factor", threshold_factor
        )
        self.value_range = check_value_range("Solarization", value_range)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        seed = self.generator if seed is None else seed
        shape = (data.shape[0], 1, 1, 1)
        low, high = self.addition_factor
        additions = _uniform(
            shape, low, high * 255, self.compute_dtype, seed, data.device
        )
        low, high = self.threshold_factor
        thresholds = _uniform(
            shape, low, high * 255, self.compute_dtype, seed, data.device
        )
        return {"additions": additions, "thresholds": thresholds}

    def transform_images(self, images, transformation, training=True):
        images = images.to(self._compute_torch_dtype)
        if not training or transformation is None:
            return images
        additions = transformation["additions"].to(images.device, images.dtype)
        thresholds = transformation["thresholds"].to(images.device, images.dtype)
        images = transform_value_range(images, self.value_range, (0, 255))
        results = (images + additions).clamp(0, 255)
        results = torch.where(results < thresholds, results, 255 - results)
        return transform_value_range(results, (0, 255), self.value_range)

    def get_config(self):
        return {
            **super().get_config(),
            "value_range": self.value_range,
            "addition_factor": self.addition_factor,
            "threshold_factor": self.threshold_factor,
            "seed": self.seed,
        }
