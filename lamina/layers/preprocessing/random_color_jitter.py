"""RandomColorJitter: random brightness, contrast, saturation and hue in turn."""

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
)
from lamina.layers.preprocessing.random_brightness import RandomBrightness
from lamina.layers.preprocessing.random_contrast import RandomContrast
from lamina.layers.preprocessing.random_hue import RandomHue
from lamina.layers.preprocessing.random_saturation import RandomSaturation


class RandomColorJitter(BaseImagePreprocessingLayer):
    """Applies `RandomBrightness`, `RandomContrast`, `RandomSaturation` and
    `RandomHue`, in that order, while training; a factor left as `None` skips
    its step. All draws come from this layer's seed.

    Args:
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        brightness_factor: `factor` of the brightness step, or `None`.
        contrast_factor: `factor` of the contrast step, or `None`.
        saturation_factor: `factor` of the saturation step, or `None`.
        hue_factor: `factor` of the hue step, or `None`.
        seed: Int seed for reproducible draws.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, 3)` or `(H, W, 3)`; output the same shape in the
    compute dtype. At inference the input is returned unchanged.

    Example:
    >>> layer = lamina.layers.RandomColorJitter(brightness_factor=0.2, seed=1)
    >>> tuple(layer(np.ones((2, 4, 4, 3), "float32"), training=True).shape)
    (2, 4, 4, 3)
    """

    _DICT_PARTS = COLOUR_ONLY

    _USE_BASE_FACTOR = False

    def __init__(
        self,
        value_range=(0, 255),
        brightness_factor=None,
        contrast_factor=None,
        saturation_factor=None,
        hue_factor=None,
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        self.value_range = value_range
        self.brightness_factor = brightness_factor
        self.contrast_factor = contrast_factor
        self.saturation_factor = saturation_factor
        self.hue_factor = hue_factor
        self.seed = seed
        self.generator = random.SeedGenerator(seed)
        steps = (
            (RandomBrightness, brightness_factor),
            (RandomContrast, contrast_factor),
            (RandomSaturation, saturation_factor),
            (RandomHue, hue_factor),
        )
        self._steps = [
            cls(
                factor=factor,
                value_range=value_range,
                seed=seed,
                data_format=self.data_format,
                dtype=self.dtype_policy,
            )
            for cls, factor in steps
            if factor is not None
        ]

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        images = images.to(self._compute_torch_dtype)
        for step in self._steps:
            draws = step.get_random_transformation(images, seed=self.generator)
            images = step.transform_images(images, draws)
        return images.to(self._compute_torch_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "value_range": self.value_range,
            "brightness_factor": self.brightness_factor,
            "contrast_factor": self.contrast_factor,
            "saturation_factor": self.saturation_factor,
            "hue_factor": self.hue_factor,
            "seed": self.seed,
        }
