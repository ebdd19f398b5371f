"""Conv2DTranspose: transposed convolution (upsampling) over images."""

from lamina.layers.convolutional._base_conv_transpose import BaseConvTranspose


class Conv2DTranspose(BaseConvTranspose):
    """2-D transposed convolution (learned upsampling) over images.

    Args:
        filters: Output channels, a positive int.
        kernel_size: Int or tuple of 2 ints, the window size.
        strides: Int or tuple of 2 ints, the upsampling factor. Defaults
            to 1.
        padding: `"valid"` (output `(n - 1) * stride + max(k, stride)`) or
            `"same"` (output `n * stride`). Defaults to `"valid"`.
        output_padding: Int or tuple of 2 ints, each smaller than its
            stride, that fixes the output size instead (see
            `BaseConvTranspose`). Defaults to `None`.
        data_format: `"channels_last"` `(batch, height, width, channels)`
            or `"channels_first"` `(batch, channels, height, width)`. Defaults to
            `image_data_format()`.
        dilation_rate: Int or tuple of 2 ints. Defaults to 1.
        activation: Name or callable applied last. Defaults to `None` (linear).
        use_bias: Defaults to `True`.
        kernel_initializer, bias_initializer: Default to `"glorot_uniform"` and
            `"zeros"`.
        kernel_regularizer, bias_regularizer, activity_regularizer: Penalties.
        kernel_constraint, bias_constraint: Projections applied after updates.

    The kernel has Keras's layout `(kh, kw, filters, in_channels)`; the bias has
    shape `(filters,)`.

    Example:
    >>> layer = lamina.layers.Conv2DTranspose(4, 3, strides=2, padding="same")
    >>> tuple(layer(np.ones((2, 4, 4, 3), "float32")).shape)
    (2, 8, 8, 4)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=(1, 1),
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
            output_padding=output_padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
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
