"""AutoContrast: stretch each image channel to the full value range."""

import torch

from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
    check_value_range,
    transform_value_range,
)


class AutoContrast(BaseImagePreprocessingLayer):
    """Rescales each channel of each image so that its darkest pixel becomes
    `value_range[0]` and its brightest `value_range[1]`.

    Deterministic, and applied in training and inference alike. A constant
    channel (no contrast to stretch) is returned unchanged.

    Args:
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.

    Input `(batch, H, W, C)` or `(H, W, C)` (channels last); output the same
    shape in the compute dtype.

    Example:
    >>> layer = lamina.layers.AutoContrast(value_range=(0, 1))
    >>> layer(np.array([[[[0.2], [0.6]]]], "float32")).flatten().tolist()
    [0.0, 1.0]
    """

    _DICT_PARTS = COLOUR_ONLY

    _USE_BASE_FACTOR = False

    def __init__(self, value_range=(0, 255), **kwargs):
        super().__init__(**kwargs)
        self.value_range = check_value_range("AutoContrast", value_range)

    def transform_images(self, images, transformation=None, training=True):
        dtype = self._compute_torch_dtype
        original = images.to(dtype)
        images = transform_value_range(original, self.value_range, (0, 255))
        # Keras reduces over axes 1 and 2, whatever the data format.
        low = images.amin(dim=(1, 2), keepdim=True)
        high = images.amax(dim=(1, 2), keepdim=True)
        scale = 255.0 / (high - low)
        images = (images * scale - low * scale).clamp(0.0, 255.0)
        results = transform_value_range(images, (0, 255), self.value_range)
        return torch.where(torch.isnan(results), original, results)

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range}
