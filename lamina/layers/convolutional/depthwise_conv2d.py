"""DepthwiseConv2D: per-channel convolution over images."""

from lamina.layers.convolutional._base_depthwise_conv import BaseDepthwiseConv


class DepthwiseConv2D(BaseDepthwiseConv):
    """2-D depthwise convolution over the height and width of images.

    Each input channel is convolved with its own `depth_multiplier` filters;
    output channel `c * depth_multiplier + m` comes from input channel `c`.

    Args:
        kernel_size: Int or tuple of 2 ints, the window size.
        strides: Int or tuple of 2 ints. Defaults to 1.
        padding: `"valid"` or `"same"` (Keras/TF rule). Defaults to `"valid"`.
        depth_multiplier: Output channels per input channel. Defaults to 1.
        data_format: `"channels_last"` `(batch, height, width, channels)`
            or `"channels_first"` `(batch, channels, height, width)`. Defaults to
            `image_data_format()`.
        dilation_rate: Int or tuple of 2 ints. Defaults to 1.
        activation: Name or callable applied last. Defaults to `None` (linear).
        use_bias: Defaults to `True`.
        depthwise_initializer, bias_initializer: Default to `"glorot_uniform"`
            and `"zeros"`.
        depthwise_regularizer, bias_regularizer, activity_regularizer: Penalties.
        depthwise_constraint, bias_constraint: Projections applied after updates.

    The kernel has Keras's layout `(kh, kw, in_channels, depth_multiplier)`; the
    bias has shape `(in_channels * depth_multiplier,)`.

    Example:
    >>> layer = lamina.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")
    >>> tuple(layer(np.ones((2, 8, 8, 3), "float32")).shape)
    (2, 8, 8, 6)
    """

    def __init__(
        self,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            rank=2,
            depth_multiplier=depth_multiplier,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            depthwise_initializer=depthwise_initializer,
            bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            depthwise_constraint=depthwise_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
