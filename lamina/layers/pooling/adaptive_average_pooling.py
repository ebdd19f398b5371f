"""AdaptiveAveragePooling1D/2D/3D: the average over windows sized to give a fixed
output size."""

from lamina.layers.pooling._base_adaptive_pooling import BaseAdaptivePooling


class AdaptiveAveragePooling1D(BaseAdaptivePooling):
    """The average over adaptive windows along the steps axis: the output has
    `output_size` steps whatever the input length.

    Args:
        output_size: An int or a tuple of one int.
        data_format: `"channels_last"` `(batch, steps, channels)` or
            `"channels_first"` `(batch, channels, steps)`. Defaults to
            `image_data_format()`.

    Example:
    >>> layer = lamina.layers.AdaptiveAveragePooling1D(2)
    >>> layer(np.arange(4, dtype="float32").reshape(1, 4, 1))[0, :, 0].tolist()
    [0.5, 2.5]
    """

    rank = 1
    _op_name = "adaptive_average_pool"


class AdaptiveAveragePooling2D(BaseAdaptivePooling):
    """The average over adaptive windows along height and width: the output has
    `output_size` `(height, width)` whatever the input size.

    Args:
        output_size: An int (square output) or a tuple `(height, width)`.
        data_format: `"channels_last"` `(batch, height, width, channels)` or
            `"channels_first"` `(batch, channels, height, width)`. Defaults to
            `image_data_format()`.

    Example:
    >>> layer = lamina.layers.AdaptiveAveragePooling2D((2, 3))
    >>> tuple(layer(np.ones((1, 7, 9, 4), "float32")).shape)
    (1, 2, 3, 4)
    """

    rank = 2
    _op_name = "adaptive_average_pool"


class AdaptiveAveragePooling3D(BaseAdaptivePooling):
    """The average over adaptive windows along depth, height and width: the
    output has `output_size` `(depth, height, width)` whatever the input size.

    Args:
        output_size: An int (cubic output) or a tuple `(depth, height, width)`.
        data_format: `"channels_last"` `(batch, depth, height, width,
            channels)` or `"channels_first"` `(batch, channels, depth, height,
            width)`. Defaults to `image_data_format()`.

    Example:
    >>> layer = lamina.layers.AdaptiveAveragePooling3D(2)
    >>> tuple(layer(np.ones((1, 5, 5, 5, 3), "float32")).shape)
    (1, 2, 2, 2, 3)
    """

    rank = 3
    _op_name = "adaptive_average_pool"
