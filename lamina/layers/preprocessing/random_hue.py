"""RandomHue: rotate the hue of each image by a random amount while training."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
    transform_value_range,
)
from lamina.random.random import _uniform


class RandomHue(BaseImagePreprocessingLayer):
    """Shifts the hue of each RGB image by a random amount while training.

    Per image a magnitude `m` is drawn uniformly from `factor` and a sign at
    random; the hue (in `[0, 1]`) moves by `sign * m / 2`, wrapping around.
    `factor=(0.5, 0.5)` therefore shifts every hue by a quarter turn.

    Args:
        factor: A number `f` (magnitudes in `[0, f]`) or a pair `(lower,
            upper)`, within `[0, 1]`.
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: Int seed for reproducible shifts.

    Input `(batch, H, W, 3)` or `(H, W, 3)`; output the same shape, in the
    compute dtype. At inference the input is returned unchanged.

    Example:
    >>> layer = lamina.layers.RandomHue(0.3, seed=1)
    >>> tuple(layer(np.ones((2, 4, 4, 3), "float32"), training=True).shape)
    (2, 4, 4, 3)
    """

    _DICT_PARTS = COLOUR_ONLY

    _FACTOR_BOUNDS = (0, 1)

    def __init__(
        self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs
    ):
        super().__init__(factor=factor, data_format=data_format, **kwargs)
        self.value_range = value_range
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        seed = self.generator if seed is None else seed
        shape = (data.shape[0],)
        sign = _uniform(shape, 0.0, 1.0, None, seed, data.device)
        sign = torch.where(sign > 0.5, -1.0, 1.0)
        magnitude = _uniform(
            shape, self.factor[0], self.factor[1], None, seed, data.device
        )
        return {"factor": sign * magnitude * 0.5}

    def transform_images(self, images, transformation=None, training=True):
        if not training:
            return images
        # Imported here: lamina.ops.image itself imports the preprocessing layers.
        from lamina.ops.image import hsv_to_rgb, rgb_to_hsv

        images = images.to(self._compute_torch_dtype)
        images = transform_value_range(images, self.value_range, (0, 1))
        shift = transformation["factor"].to(images.device, images.dtype)
        hsv = rgb_to_hsv(images, data_format=self.data_format)
        axis = -3 if self.data_format == "channels_first" else -1
        hue, saturation, value = hsv.unbind(dim=axis)
        hue = hue + shift.reshape(-1, 1, 1)
        hue = torch.where(hue > 1.0, hue - 1.0, hue)
        hue = torch.where(hue < 0.0, hue + 1.0, hue)
        hsv = torch.stack([hue, saturation, value], dim=axis)
        images = hsv_to_rgb(hsv, data_format=self.data_format).clamp(0, 1)
        images = transform_value_range(images, (0, 1), self.value_range)
        return images.to(self._compute_torch_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": self.value_range,
            "seed": self.seed,
        }
