"""RandomGrayscale: turn images to grayscale at random while training."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
)
from lamina.random.random import _uniform


def _grayscale(images, data_format):
    """Luma `0.2989 R + 0.587 G + 0.114 B` broadcast back over the channels."""
    axis = -3 if data_format == "channels_first" else -1
    if images.shape[axis] == 1:
        return images
    if images.shape[axis] != 3:
        raise ValueError(
            "Grayscale conversion expects images with 3 (RGB) or 1 channels; got "
            f"shape {tuple(images.shape)}."
        )
    r, g, b = images.unbind(dim=axis)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(axis).to(images.dtype)


class RandomGrayscale(BaseImagePreprocessingLayer):
    """Converts each RGB image to grayscale with probability `factor` while
    training; the output keeps 3 (equal) channels.

    Args:
        factor: Probability of converting an image, in `[0, 1]`. Defaults to
            0.5.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: Int seed for reproducible choices.

    Input `(batch, H, W, 3)` or `(H, W, 3)` (channels last); output the same
    shape.

    Example:
    >>> layer = lamina.layers.RandomGrayscale(factor=1.0)
    >>> x = np.array([[[[10.0, 0.0, 0.0]]]], "float32")
    >>> [round(v, 3) for v in layer(x, training=True).flatten().tolist()]
    [2.989, 2.989, 2.989]
    """

    _DICT_PARTS = COLOUR_ONLY

    _USE_BASE_FACTOR = False

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if (
            isinstance(factor, bool)
            or not isinstance(factor, (int, float))
            or not (0 <= factor <= 1)
        ):
            raise ValueError(
                "RandomGrayscale expects `factor` (the probability of converting "
                f"an image) to be a number in [0, 1]; got factor={factor!r}."
            )
        self.factor = factor
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        draws = _uniform(
            (data.shape[0],),
            0,
            1,
            None,
            self.generator if seed is None else seed,
            data.device,
        )
        return (draws < self.factor).reshape(-1, 1, 1, 1)

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        should_apply = transformation.to(images.device)
        return torch.where(should_apply, _grayscale(images, self.data_format), images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}
