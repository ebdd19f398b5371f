"""MaxPooling1D/2D/3D: the maximum of each pooling window."""

from lamina.layers.pooling._base_pooling import BasePooling


class MaxPooling1D(BasePooling):
    """Maximum over windows of steps.

    Args:
        pool_size: Int or tuple of 1 ints, the window size. Defaults to `2`.
        strides: Int or tuple of 1 ints. Defaults to `None` (= `pool_size`).
        padding: `"valid"` or `"same"` (output size `ceil(input / stride)`;
            padded positions never count, as in Keras/TF). Defaults to
            `"valid"`.
        data_format: `"channels_last"` `(batch, steps, channels)`
            or `"channels_first"` `(batch, channels, steps)`. Defaults to
            `image_data_format()`.

    Example:
    >>> layer = lamina.layers.MaxPooling1D()
    >>> tuple(layer(np.ones((2, 8, 3), "float32")).shape)
    (2, 4, 3)
    """

    rank = 1
    pool_mode = "max"

    def __init__(
        self,
        pool_size=2,
        strides=None,
        padding="valid",
        data_format=None,
        name=None,
        **kwargs,
    ):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class MaxPooling2D(BasePooling):
    """Maximum over windows of 2-D inputs.

    Args:
        pool_size: Int or tuple of 2 ints, the window size. Defaults to `(2, 2)`.
        strides: Int or tuple of 2 ints. Defaults to `None` (= `pool_size`).
        padding: `"valid"` or `"same"` (output size `ceil(input / stride)`;
            padded positions never count, as in Keras/TF). Defaults to
            `"valid"`.
        data_format: `"channels_last"` `(batch, height, width, channels)`
            or `"channels_first"` `(batch, channels, height, width)`. Defaults to
            `image_data_format()`.

    Example:
    >>> layer = lamina.layers.MaxPooling2D()
    >>> tuple(layer(np.ones((2, 8, 8, 3), "float32")).shape)
    (2, 4, 4, 3)
    """

    rank = 2
    pool_mode = "max"

    def __init__(
        self,
        pool_size=(2, 2),
        strides=None,
        padding="valid",
        data_format=None,
        name=None,
        **kwargs,
    ):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class MaxPooling3D(BasePooling):
    """Maximum over windows of 3-D inputs.

    Args:
        pool_size: Int or tuple of 3 ints, the window size. Defaults to `(2, 2, 2)`.
        strides: Int or tuple of 3 ints. Defaults to `None` (= `pool_size`).
        padding: `"valid"` or `"same"` (output size `ceil(input / stride)`;
            padded positions never count, as in Keras/TF). Defaults to
            `"valid"`.
        data_format: `"channels_last"` `(batch, d1, d2, d3, channels)`
            or `"channels_first"` `(batch, channels, d1, d2, d3)`. Defaults to
            `image_data_format()`.

    Example:
    >>> layer = lamina.layers.MaxPooling3D()
    >>> tuple(layer(np.ones((2, 4, 4, 4, 3), "float32")).shape)
    (2, 2, 2, 2, 3)
    """

    rank = 3
    pool_mode = "max"

    def __init__(
        self,
        pool_size=(2, 2, 2),
        strides=None,
        padding="valid",
        data_format=None,
        name=None,
        **kwargs,
    ):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)
