"""Conv2D: convolution over two spatial axes (images)."""

from lamina.layers.convolutional._base_conv import BaseConv


class Conv2D(BaseConv):
    """2-D convolution over the height and width of images.

    Args:
        filters: Number of output channels, a positive int.
        kernel_size: Int or tuple of 2 ints, the window size.
        strides: Int or tuple of 2 ints. Defaults to 1.
        padding: `"valid"` or `"same"` (Keras/TF rule: output size
            `ceil(input / stride)`, odd total padding puts the extra pixel
            right/bottom). Defaults to `"valid"`.
        data_format: `"channels_last"` `(batch, height, width, channels)`
            or `"channels_first"` `(batch, channels, height, width)`. Defaults to
            `image_data_format()`.
        dilation_rate: Int or tuple of 2 ints. Defaults to 1.
        groups: Channel groups convolved separately; divides the input
            channels and `filters`. Defaults to 1.
        activation: Name or callable applied last. Defaults to `None` (linear).
        use_bias: Defaults to `True`.
        kernel_initializer, bias_initializer: Default to `"glorot_uniform"` and
            `"zeros"`.
        kernel_regularizer, bias_regularizer, activity_regularizer: Penalties.
        kernel_constraint, bias_constraint: Projections applied after updates.

    Input shape `(batch, height, width, channels)` (or `(batch, channels, height,
    width)`); the output has `filters` channels. The kernel has Keras's layout `(kh,
    kw, in_channels // groups, filters)`.

    Example:
    >>> layer = lamina.layers.Conv2D(4, 3, padding="same")
    >>> tuple(layer(np.ones((2, 8, 8, 3), "float32")).shape)
    (2, 8, 8, 4)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format=None,
        dilation_rate=(1, 1),
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            rank=2,
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            groups=groups,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
