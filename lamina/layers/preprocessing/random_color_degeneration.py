"""RandomColorDegeneration: blend images towards their grayscale version."""

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
    check_value_range,
)
from lamina.layers.preprocessing.random_grayscale import _grayscale
from lamina.random.random import _uniform


class RandomColorDegeneration(BaseImagePreprocessingLayer):
    """Moves each RGB image a random fraction of the way to its grayscale
    version while training: `x + f * (gray(x) - x)`, clipped to `value_range`.

    Args:
        factor: A number `f` or a pair `(lower, upper)` within `[-1, 1]`; the
            blend fraction is uniform in `(lower, upper)` (a number gives
            `(-f, f)`, as in Keras).
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: Int seed for reproducible fractions.

    Input `(batch, H, W, 3)` or `(H, W, 3)`; output the same shape. At
    inference the input is returned unchanged.

    Example:
    >>> layer = lamina.layers.RandomColorDegeneration((1.0, 1.0))
    >>> x = np.array([[[[10.0, 0.0, 0.0]]]], "float32")
    >>> [round(v, 3) for v in layer(x, training=True).flatten().tolist()]
    [2.989, 2.989, 2.989]
    """

    _DICT_PARTS = COLOUR_ONLY

    def __init__(
        self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs
    ):
        super().__init__(factor=factor, data_format=data_format, **kwargs)
        self.value_range = check_value_range("RandomColorDegeneration", value_range)
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        factor = _uniform(
            (data.shape[0], 1, 1, 1),
            self.factor[0],
            self.factor[1],
            None,
            self.generator if seed is None else seed,
            data.device,
        )
        return {"factor": factor}

    def transform_images(self, images, transformation=None, training=True):
        if not training:
            return images
        images = images.to(self._compute_torch_dtype)
        factor = transformation["factor"].to(images.device, images.dtype)
        if self.data_format == "channels_first":
            factor = factor.reshape(-1, 1, 1, 1)
        gray = _grayscale(images, self.data_format)
        images = images + factor * (gray - images)
        return images.clamp(self.value_range[0], self.value_range[1])

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict):
            return self._dict_output_shape(input_shape)
        channels = input_shape[-1 if self.data_format == "channels_last" else -3]
        if channels is not None and channels != 3:
            raise ValueError(
                f"Layer '{self.name}' (RandomColorDegeneration) expects images "
                f"with 3 channels; got input shape {tuple(input_shape)}."
            )
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": self.value_range,
            "seed": self.seed,
        }
