"""GlobalAveragePooling1D/2D/3D: the mean over all spatial positions."""

import torch

from lamina.layers.pooling._base_global_pooling import BaseGlobalPooling


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over every step; the output has shape
    `(batch, channels)`.

    With a mask (e.g. from `Embedding(mask_zero=True)`), only the unmasked
    steps are averaged; the output carries no mask.

    Args:
        data_format: `"channels_last"` `(batch, steps, channels)`
            or `"channels_first"` `(batch, channels, steps)`. Defaults to
            `image_data_format()`.
        keepdims: Keep the reduced axes with size 1. Defaults to `False`.

    Example:
    >>> layer = lamina.layers.GlobalAveragePooling1D()
    >>> tuple(layer(np.ones((2, 8, 3), "float32")).shape)
    (2, 3)
    """

    rank = 1

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        axis = self._axes(inputs)[0]
        if mask is None:
            return torch.mean(inputs, dim=axis, keepdim=self.keepdims)
        # Keras: sum of the unmasked steps / their count (nan if none is left).
        keep = mask.to(torch.bool).unsqueeze(2 if axis == 1 else 1)
        total = torch.where(keep, inputs, 0).sum(dim=axis, keepdim=self.keepdims)
        count = keep.to(inputs.dtype).sum(dim=axis, keepdim=self.keepdims)
        return total / count

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over every spatial position; the output has shape
    `(batch, channels)`.

    Args:
        data_format: `"channels_last"` `(batch, height, width, channels)`
            or `"channels_first"` `(batch, channels, height, width)`. Defaults to
            `image_data_format()`.
        keepdims: Keep the reduced axes with size 1. Defaults to `False`.

    Example:
    >>> layer = lamina.layers.GlobalAveragePooling2D()
    >>> tuple(layer(np.ones((2, 8, 8, 3), "float32")).shape)
    (2, 3)
    """

    rank = 2
    _reduce = staticmethod(torch.mean)


class GlobalAveragePooling3D(BaseGlobalPooling):
    """Mean over every spatial position; the output has shape
    `(batch, channels)`.

    Args:
        data_format: `"channels_last"` `(batch, d1, d2, d3, channels)`
            or `"channels_first"` `(batch, channels, d1, d2, d3)`. Defaults to
            `image_data_format()`.
        keepdims: Keep the reduced axes with size 1. Defaults to `False`.

    Example:
    >>> layer = lamina.layers.GlobalAveragePooling3D()
    >>> tuple(layer(np.ones((2, 4, 4, 4, 3), "float32")).shape)
    (2, 3)
    """

    rank = 3
    _reduce = staticmethod(torch.mean)
