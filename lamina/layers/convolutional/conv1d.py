"""Conv1D: convolution over one spatial axis (sequences)."""

from lamina.layers.convolutional._base_conv import BaseConv


class Conv1D(BaseConv):
    """1-D convolution over the steps of a sequence.

    Args:
        filters: Number of output channels, a positive int.
        kernel_size: Int or tuple of 1 ints, the window size.
        strides: Int or tuple of 1 ints. Defaults to 1.
        padding: `"valid"`, `"same"` or `"causal"` (output step t sees only
            inputs up to t: left padding of `dilation_rate * (kernel_size - 1)`).
            Defaults to `"valid"`.
        data_format: `"channels_last"` `(batch, steps, channels)`
            or `"channels_first"` `(batch, channels, steps)`. Defaults to
            `image_data_format()`.
        dilation_rate: Int or tuple of 1 ints. Defaults to 1.
        groups: Channel groups convolved separately; divides the input
            channels and `filters`. Defaults to 1.
        activation: Name or callable applied last. Defaults to `None` (linear).
        use_bias: Defaults to `True`.
        kernel_initializer, bias_initializer: Default to `"glorot_uniform"` and
            `"zeros"`.
        kernel_regularizer, bias_regularizer, activity_regularizer: Penalties.
        kernel_constraint, bias_constraint: Projections applied after updates.

    Input shape `(batch, steps, channels)` (or `(batch, channels, steps)`); the
    output has `filters` channels. The kernel has Keras's layout `(kernel_size,
    in_channels // groups, filters)`.

    Example:
    >>> layer = lamina.layers.Conv1D(4, 3, padding="same")
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
            rank=1,
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
