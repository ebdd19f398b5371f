"""ConvLSTM3D: a convolutional LSTM over sequences of 3D feature maps."""

from lamina.layers.rnn.conv_lstm import ConvLSTM


class ConvLSTM3D(ConvLSTM):
    """Convolutional LSTM over inputs `(batch, time, depth, rows, cols, channels)`
    (`channels_last`) or `(batch, time, channels, depth, rows, cols)`
    (`channels_first`).

    Both the input and the recurrent transforms are 3D convolutions; the
    gates follow Keras's LSTM order i, f, c, o. Weights live on the cell:
    `cell.kernel` `kernel_size + (channels, 4 * filters)`,
    `cell.recurrent_kernel` `kernel_size + (filters, 4 * filters)`,
    `cell.bias` `(4 * filters,)`.

    Args:
        filters: Output channels, a positive int.
        kernel_size: An int or 3 ints.
        strides: An int or 3 ints (input convolution). Defaults to `1`.
        padding: `"valid"` (default) or `"same"` (input convolution; the
            recurrent convolution always pads `"same"`).
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.
        dilation_rate: An int or 3 ints. Defaults to `1`.
        activation: Defaults to `"tanh"`.
        recurrent_activation: Activation of the gates. Defaults to
            `"sigmoid"`.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        unit_forget_bias, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint,
        recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
        seed: As in `LSTM`.
        return_sequences, return_state, go_backwards, stateful: As in `RNN`;
            with `return_state=True` the call returns `(output, h, c)`.

    Example:
    >>> layer = ConvLSTM3D(4, 3, return_sequences=False)
    >>> tuple(layer(np.ones((2, 3, 4, 4, 4, 2), "float32")).shape)
    (2, 2, 2, 2, 4)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        **kwargs,
    ):
        super().__init__(
            rank=3,
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            **kwargs,
        )
