"""RandomContrast: scale each image's deviation from its mean by a random factor."""

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
)
from lamina.random.random import _uniform


class RandomContrast(BaseImagePreprocessingLayer):
    """Adjusts contrast by a random factor per image while training.

    Each image becomes `(x - mean) * c + mean` per channel (mean over height
    and width), clipped to `value_range`, with `c` uniform in
    `[1 - lower, 1 + upper]` where `(lower, upper) = factor`.

    Args:
        factor: A number `f` or a pair `(lower, upper)` in `[0, 1]`. As in
            Keras 3, a single number gives `factor = (0, f)`, i.e. contrast
            factors in `[1, 1 + f]`; pass `(f, f)` for `[1 - f, 1 + f]`.
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        seed: Int seed for reproducible factors.

    Input `(batch, H, W, C)` or `(H, W, C)`. At inference the input is returned
    unchanged (its dtype too, as in Keras).

    Example:
    >>> layer = lamina.layers.RandomContrast(0.5, seed=1)
    >>> x = np.full((1, 2, 2, 1), 7.0, "float32")
    >>> layer(x, training=True).flatten().tolist()  # a flat image stays flat
    [7.0, 7.0, 7.0, 7.0]
    """

    _DICT_PARTS = COLOUR_ONLY

    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(factor=factor, **kwargs)
        self.value_range = value_range
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        factor = _uniform(
            (data.shape[0], 1, 1, 1),
            1.0 - self.factor[0],
            1.0 + self.factor[1],
            self.compute_dtype,
            self.generator if seed is None else seed,
            data.device,
        )
        return {"contrast_factor": factor}

    def transform_images(self, images, transformation, training=True):
        if not training or transformation is None:
            return images
        images = images.to(self._compute_torch_dtype)
        height_axis, width_axis = (
            (-2, -1) if self.data_format == "channels_first" else (-3, -2)
        )
        mean = images.mean(dim=height_axis, keepdim=True).mean(
            dim=width_axis, keepdim=True
        )
        factor = transformation["contrast_factor"].to(images.device, images.dtype)
        if self.data_format == "channels_first":
            factor = factor.reshape(-1, 1, 1, 1)
        outputs = (images - mean) * factor + mean
        return outputs.clamp(self.value_range[0], self.value_range[1])

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": self.value_range,
            "seed": self.seed,
        }
