"""SeparableConv1D: depthwise then pointwise convolution over sequences."""

from lamina.layers.convolutional._base_separable_conv import BaseSeparableConv


class SeparableConv1D(BaseSeparableConv):
    """1-D depthwise separable convolution over the steps of a sequence.

    A depthwise convolution (each input channel with its own `depth_multiplier`
    filters) followed by a pointwise (1x1) convolution to `filters` channels:
    far fewer weights than a full convolution of the same window.

    Args:
        filters: Output channels, a positive int.
        kernel_size: Int or tuple of 1 ints, the depthwise window.
        strides: Int or tuple of 1 ints. Defaults to 1.
        padding: `"valid"` or `"same"` (Keras/TF rule). Defaults to `"valid"`.
        data_format: `"channels_last"` `(batch, steps, channels)`
            or `"channels_first"` `(batch, channels, steps)`. Defaults to
            `image_data_format()`.
        dilation_rate: Int or tuple of 1 ints. Defaults to 1.
        depth_multiplier: Depthwise channels per input channel. Defaults to 1.
        activation: Name or callable applied last. Defaults to `None` (linear).
        use_bias: Defaults to `True`.
        depthwise_initializer, pointwise_initializer, bias_initializer: Default
            to `"glorot_uniform"`, `"glorot_uniform"` and `"zeros"`.
        depthwise_regularizer, pointwise_regularizer, bias_regularizer,
        activity_regularizer: Penalties.
        depthwise_constraint, pointwise_constraint, bias_constraint: Projections.

    Weights (Keras layouts): `depthwise_kernel` `(kernel_size, in_channels,
    depth_multiplier)`, `pointwise_kernel` `(1, in_channels * depth_multiplier,
    filters)`, `bias` `(filters,)`.

    Example:
    >>> layer = lamina.layers.SeparableConv1D(4, 3, padding="same")
    >>> tuple(layer(np.ones((2, 10, 3), "float32")).shape)
    (2, 10, 4)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            rank=1,
            depth_multiplier=depth_multiplier,
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            depthwise_initializer=depthwise_initializer,
            pointwise_initializer=pointwise_initializer,
            bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer,
            pointwise_regularizer=pointwise_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            depthwise_constraint=depthwise_constraint,
            pointwise_constraint=pointwise_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
