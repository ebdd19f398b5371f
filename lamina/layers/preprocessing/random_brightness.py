"""RandomBrightness: add a random offset to each image while training."""

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
    check_value_range,
)
from lamina.random.random import _uniform


class RandomBrightness(BaseImagePreprocessingLayer):
    """Shifts the brightness of each image by a random amount while training.

    Each image gets `delta * (max - min)` added to all its pixels, with `delta`
    uniform in `factor` and `(min, max) = value_range`; the result is clipped
    to `value_range`.

    Args:
        factor: A number `f` in `[0, 1]` (deltas in `[-f, f]`) or a pair
            `(lower, upper)` in `[-1, 1]`.
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        seed: Int seed for reproducible offsets.

    Input `(batch, H, W, C)` or `(H, W, C)`. At inference the input is returned
    unchanged.

    Example:
    >>> layer = lamina.layers.RandomBrightness((0.5, 0.5), value_range=(0, 1))
    >>> layer(np.full((1, 1, 1, 1), 0.25, "float32"), training=True).item()
    0.75
    """

    _DICT_PARTS = COLOUR_ONLY

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(factor=factor, **kwargs)
        self.seed = seed
        self.generator = random.SeedGenerator(seed)
        self.value_range = check_value_range("RandomBrightness", value_range)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        delta = _uniform(
            (data.shape[0], 1, 1, 1),
            self.factor[0],
            self.factor[1],
            None,
            self.generator if seed is None else seed,
            data.device,
        )
        return {"rgb_delta": delta * (self.value_range[1] - self.value_range[0])}

    def transform_images(self, images, transformation, training=True):
        if not training or transformation is None:
            return images
        images = images.to(self._compute_torch_dtype)
        images = images + transformation["rgb_delta"].to(images.device, images.dtype)
        return images.clamp(self.value_range[0], self.value_range[1])

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": self.value_range,
            "seed": self.seed,
        }
