"""GlobalMaxPooling1D/2D/3D: the maximum over all spatial positions."""

import torch

from lamina.layers.pooling._base_global_pooling import BaseGlobalPooling


class GlobalMaxPooling1D(BaseGlobalPooling):
    """Maximum over every step; the output has shape
    `(batch, channels)`.

    Args:
        data_format: `"channels_last"` `(batch, steps, channels)`
            or `"channels_first"` `(batch, channels, steps)`. Defaults to
            `image_data_format()`.
        keepdims: Keep the reduced axes with size 1. Defaults to `False`.

    Example:
    >>> layer = lamina.layers.GlobalMaxPooling1D()
    >>> tuple(layer(np.ones((2, 8, 3), "float32")).shape)
    (2, 3)
    """

    rank = 1
    _reduce = staticmethod(torch.amax)


class GlobalMaxPooling2D(BaseGlobalPooling):
    """Maximum over every spatial position; the output has shape
    `(batch, channels)`.

    Args:
        data_format: `"channels_last"` `(batch, height, width, channels)`
            or `"channels_first"` `(batch, channels, height, width)`. Defaults to
            `image_data_format()`.
        keepdims: Keep the reduced axes with size 1. Defaults to `False`.

    Example:
    >>> layer = lamina.layers.GlobalMaxPooling2D()
    >>> tuple(layer(np.ones((2, 8, 8, 3), "float32")).shape)
    (2, 3)
    """

    rank = 2
    _reduce = staticmethod(torch.amax)


class GlobalMaxPooling3D(BaseGlobalPooling):
    """Maximum over every spatial position; the output has shape
    `(batch, channels)`.

    Args:
        data_format: `"channels_last"` `(batch, d1, d2, d3, channels)`
            or `"channels_first"` `(batch, channels, d1, d2, d3)`. Defaults to
            `image_data_format()`.
        keepdims: Keep the reduced axes with size 1. Defaults to `False`.

    Example:
    >>> layer = lamina.layers.GlobalMaxPooling3D()
    >>> tuple(layer(np.ones((2, 4, 4, 4, 3), "float32")).shape)
    (2, 3)
    """

    rank = 3
    _reduce = staticmethod(torch.amax)
