"""RandomSharpness: sharpen or soften images by a random amount."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
    check_value_range,
)
from lamina.random.random import _uniform


class RandomSharpness(BaseImagePreprocessingLayer):
    """Blends each image with a smoothed copy by a random amount while training.

    The smoothed copy is a 3x3 convolution (weights 1/13, centre 5/13, zero
    padding). Per image `f` is drawn uniformly from `factor`, and the output is
    `x + (1 - 2 f) * (smoothed - x)`, clipped to `value_range`: `f = 0.5`
    keeps the image, smaller values soften it, larger values sharpen it.

    Args:
        factor: A number `f` (draws in `[0, f]`) or a pair `(lower, upper)`
            within `[0, 1]`.
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: Int seed for reproducible amounts.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype. At inference the input is returned in the compute dtype.

    Example:
    >>> layer = lamina.layers.RandomSharpness((0.5, 0.5))
    >>> layer(np.full((1, 3, 3, 1), 7.0, "float32"), training=True)[0, 1, 1, 0].item()
    7.0
    """

    _DICT_PARTS = COLOUR_ONLY

    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(
        self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs
    ):
        super().__init__(data_format=data_format, **kwargs)
        self._set_factor(factor)
        self.value_range = check_value_range("RandomSharpness", value_range)
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        factor = _uniform(
            (data.shape[0],),
            self.factor[0],
            self.factor[1],
            None,
            self.generator if seed is None else seed,
            data.device,
        )
        return {"factor": factor}

    def transform_images(self, images, transformation=None, training=True):
        images = images.to(self._compute_torch_dtype)
        if not training:
            return images
        x = (
            images
            if self.data_format == "channels_first"
            else images.permute(0, 3, 1, 2)
        )
        channels = x.shape[1]
        a, b = 1.0 / 13.0, 5.0 / 13.0
        kernel = torch.tensor(
            [[a, a, a], [a, b, a], [a, a, a]], dtype=x.dtype, device=x.device
        )
        kernel = kernel.expand(channels, 1, 3, 3)
        smoothed = torch.nn.functional.conv2d(x, kernel, padding=1, groups=channels)
        amount = transformation["factor"].to(x.device, x.dtype).reshape(-1, 1, 1, 1)
        x = x + (1.0 - 2.0 * amount) * (smoothed - x)
        x = x.clamp(self.value_range[0], self.value_range[1])
        return x if self.data_format == "channels_first" else x.permute(0, 2, 3, 1)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": self.value_range,
            "seed": self.seed,
        }
