"""AveragePooling1D/2D/3D: the mean of each pooling window."""

from lamina.layers.pooling._base_pooling import BasePooling


class AveragePooling1D(BasePooling):
    """Mean over windows of steps.

    Args:
        pool_size: Int or tuple of 1 ints, the window size. Required, as in Keras.
        strides: Int or tuple of 1 ints. Defaults to `None` (= `pool_size`).
        padding: `"valid"` or `"same"` (output size `ceil(input / stride)`;
            padded positions never count, as in Keras/TF). Defaults to
            `"valid"`.
        data_format: `"channels_last"` `(batch, steps, channels)`
            or `"channels_first"` `(batch, channels, steps)`. Defaults to
            `image_data_format()`.

    Example:
    >>> layer = lamina.layers.AveragePooling1D(2)
    >>> tuple(layer(np.ones((2, 8, 3), "float32")).shape)
    (2, 4, 3)
    """

    rank = 1
    pool_mode = "average"


class AveragePooling2D(BasePooling):
    """Mean over windows of 2-D inputs.

    Args:
        pool_size: Int or tuple of 2 ints, the window size. Required, as in Keras.
        strides: Int or tuple of 2 ints. Defaults to `None` (= `pool_size`).
        padding: `"valid"` or `"same"` (output size `ceil(input / stride)`;
            padded positions never count, as in Keras/TF). Defaults to
            `"valid"`.
        data_format: `"channels_last"` `(batch, height, width, channels)`
            or `"channels_first"` `(batch, channels, height, width)`. Defaults to
            `image_data_format()`.

    Example:
    >>> layer = lamina.layers.AveragePooling2D((2, 2))
    >>> tuple(layer(np.ones((2, 8, 8, 3), "float32")).shape)
    (2, 4, 4, 3)
    """

    rank = 2
    pool_mode = "average"


class AveragePooling3D(BasePooling):
    """Mean over windows of 3-D inputs.

    Args:
        pool_size: Int or tuple of 3 ints, the window size. Required, as in Keras.
        strides: Int or tuple of 3 ints. Defaults to `None` (= `pool_size`).
        padding: `"valid"` or `"same"` (output size `ceil(input / stride)`;
            padded positions never count, as in Keras/TF). Defaults to
            `"valid"`.
        data_format: `"channels_last"` `(batch, d1, d2, d3, channels)`
            or `"channels_first"` `(batch, channels, d1, d2, d3)`. Defaults to
            `image_data_format()`.

    Example:
    >>> layer = lamina.layers.AveragePooling3D((2, 2, 2))
    >>> tuple(layer(np.ones((2, 4, 4, 4, 3), "float32")).shape)
    (2, 2, 2, 2, 3)
    """

    rank = 3
    pool_mode = "average"
