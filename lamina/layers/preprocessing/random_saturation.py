"""RandomSaturation: scale the saturation of each image at random."""

import torch

from lamina import backend, random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
    check_value_range,
)
from lamina.random.random import _uniform


class RandomSaturation(BaseImagePreprocessingLayer):
    """Scales the HSV saturation of each RGB image by a random factor while
    training.

    Per image `u` is drawn uniformly from `factor` and the saturation is
    multiplied by `u / (1 - u)` (so `u = 0.5` keeps it, `u = 0` removes all
    colour, `u` near 1 saturates fully), then clipped to `value_range`, as in
    Keras 3. Images are converted to HSV as they are, without rescaling.

    Args:
        factor: A number `f` or a pair `(lower, upper)` within `[-1, 1]`;
            as in Keras, a number gives `(-f, f)`.
        value_range: `(min, max)`; the new saturation is clipped to it.
            Defaults to `(0, 255)`.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: Int seed for reproducible factors.

    Input `(batch, H, W, 3)` or `(H, W, 3)`; output the same shape. At
    inference the input is returned unchanged.

    Example:
    >>> layer = lamina.layers.RandomSaturation((0.0, 0.0), value_range=(0, 1))
    >>> layer(np.array([[[[1.0, 0.0, 0.0]]]], "float32"), training=True).tolist()
    [[[[1.0, 1.0, 1.0]]]]
    """

    _DICT_PARTS = COLOUR_ONLY

    def __init__(
        self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs
    ):
        super().__init__(factor=factor, data_format=data_format, **kwargs)
        self.value_range = check_value_range("RandomSaturation", value_range)
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
        return {"factor": factor / (1 - factor + backend.epsilon())}

    def transform_images(self, images, transformation=None, training=True):
        if not training:
            return images
        # Imported here: lamina.ops.image itself imports the preprocessing layers.
        from lamina.ops.image import hsv_to_rgb, rgb_to_hsv

        factor = transformation["factor"].to(images.device, self._compute_torch_dtype)
        axis = -3 if self.data_format == "channels_first" else -1
        hsv = rgb_to_hsv(images, data_format=self.data_format)
        hue, saturation, value = hsv.unbind(dim=axis)
        saturation = (saturation * factor.reshape(-1, 1, 1)).clamp(
            self.value_range[0], self.value_range[1]
        )
        hsv = torch.stack([hue, saturation, value], dim=axis)
        return hsv_to_rgb(hsv, data_format=self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": self.value_range,
            "seed": self.seed,
        }
