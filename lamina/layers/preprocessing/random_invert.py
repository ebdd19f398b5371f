"""RandomInvert: invert images (`max - x`) at random while training."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
)
from lamina.random.random import _uniform


class RandomInvert(BaseImagePreprocessingLayer):
    """Replaces each image by `value_range[1] - x` with a random probability
    while training.

    Per image a probability `p` is drawn uniformly from `factor`; the image is
    inverted when a second uniform draw falls below `p`. `factor=1.0` (the
    default) inverts some images, `factor=(1.0, 1.0)` every image.

    Args:
        factor: A number `f` (probabilities in `[0, f]`) or a pair `(lower,
            upper)` within `[0, 1]`. Defaults to 1.0.
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        seed: Int seed for reproducible choices.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape. At
    inference the input is returned unchanged.

    Example:
    >>> layer = lamina.layers.RandomInvert((1.0, 1.0), value_range=(0, 1))
    >>> layer(np.full((1, 1, 1, 1), 0.25, "float32"), training=True).item()
    0.75
    """

    _DICT_PARTS = COLOUR_ONLY

    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(
        self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs
    ):
        super().__init__(data_format=data_format, **kwargs)
        self._set_factor(factor)
        self.value_range = value_range
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        seed = self.generator if seed is None else seed
        shape = (data.shape[0],)
        probability = _uniform(
            shape, self.factor[0], self.factor[1], None, seed, data.device
        )
        threshold = _uniform(shape, 0.0, 1.0, None, seed, data.device)
        return {"apply_inversion": threshold < probability}

    def transform_images(self, images, transformation, training=True):
        if not training or transformation is None:
            return images
        images = images.to(self._compute_torch_dtype)
        apply = transformation["apply_inversion"].to(images.device)
        return torch.where(
            apply.reshape(-1, 1, 1, 1), self.value_range[1] - images, images
        )

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": self.value_range,
            "seed": self.seed,
        }
