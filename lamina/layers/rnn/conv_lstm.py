"""ConvLSTMCell and ConvLSTM: an LSTM whose input and recurrent transforms are
convolutions (Shi et al., 2015), in Keras's layout; the base of ConvLSTM1D/2D/3D.

The layer runs on `RNN`'s machinery (masks, initial and kept states,
`go_backwards`, dropout masks) by presenting each timestep to it flattened:
sequences `(batch, time, *spatial, channels)` travel as `(batch, time, -1)`,
states as `(batch, -1)`, and the cell reshapes them around its convolutions.
"""

import math

import torch

from lamina import (
    activations,
    backend,
    constraints,
    initializers,
    ops,
    random,
    regularizers,
)
from lamina.layers.convolutional import _conv_utils as U
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer
from lamina.layers.rnn._rnn_utils import WEIGHT_ARGS, config_of
from lamina.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from lamina.layers.rnn.rnn import RNN, as_state_tensors, clip_rate

_SPATIAL_ARGS = (
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "data_format",
    "dilation_rate",
    "activation",
    "recurrent_activation",
    "use_bias",
)


class ConvLSTMCell(Layer, DropoutRNNCell):
    """One ConvLSTM step over a `rank`-D feature map. Gates are packed along
    the output-channels axis of the kernels in Keras's order i, f, c, o:

    `z = conv(x, kernel) + bias + conv_same(h, recurrent_kernel)`, then as in
    `LSTMCell`: `c' = f * c + i * tanh(z_c)`, `h' = o * tanh(c')`.

    Args:
        rank: Number of spatial axes, 1, 2 or 3.
        filters: Channels of the output and of both states, a positive int.
        kernel_size: An int or `rank` ints.
        strides: An int or `rank` ints (of the input convolution; the
            recurrent one always uses 1). Defaults to `1`.
        padding: `"valid"` or `"same"` (input convolution; the recurrent one
            is always `"same"`). Defaults to `"valid"`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.
        dilation_rate: An int or `rank` ints. Defaults to `1`.
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed: As in `LSTMCell`; the dropout masks (one per
        gate) are shaped like one timestep's input or state.

    Weights: `kernel` `kernel_size + (channels, 4 * filters)`,
    `recurrent_kernel` `kernel_size + (filters, 4 * filters)`, `bias`
    `(4 * filters,)`.
    """

    def __init__(
        self,
        rank,
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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Keras makes the seed generator before the initializers: with an
        # unseeded generator, this order draws the same default seeds.
        self.seed = seed
        self.seed_generator = random.SeedGenerator(seed)
        who = type(self).__name__
        if rank not in (1, 2, 3):
            raise ValueError(
                f"{who} expects `rank` to be 1, 2 or 3; got rank={rank!r}."
            )
        U.check_positive_int(filters, "filters", who, "filters=16")
        self.rank = rank
        self.filters = filters
        self.kernel_size = U.standardize_tuple(kernel_size, rank, "kernel_size", who)
        self.strides = U.standardize_tuple(strides, rank, "strides", who)
        self.padding = U.standardize_padding(padding, who)
        self.data_format = U.standardize_data_format(data_format, who)
        self.dilation_rate = U.standardize_tuple(
            dilation_rate, rank, "dilation_rate", who
        )
        U.check_strides_and_dilation(
            self.strides,
            self.dilation_rate,
            who,
            problem="Specifying `strides > 1` is not compatible with "
            "`dilation_rate > 1`",
        )
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = clip_rate(dropout)
        self.recurrent_dropout = clip_rate(recurrent_dropout)
        self.dropout_mask_count = 4  # Keras: one mask per gate
        self.input_spec = InputSpec(ndim=rank + 2)
        # Sizes depend on the spatial shape, known once built (Keras: -1).
        self.state_size = [-1, -1]

    def build(self, inputs_shape, states_shape=None):
        inputs_shape = tuple(inputs_shape)
        who = f"Layer '{self.name}' ({type(self).__name__})"
        if len(inputs_shape) != self.rank + 2:
            raise ValueError(
                f"{who} expects one timestep of rank {self.rank + 2}; got shape "
                f"{inputs_shape}."
            )
        if self.data_format == "channels_first":
            channels, spatial = inputs_shape[1], inputs_shape[2:]
        else:
            channels, spatial = inputs_shape[-1], inputs_shape[1:-1]
        if None in spatial or channels is None:
            raise ValueError(
                f"{who} needs known spatial and channel sizes; got input shape "
                f"{inputs_shape}. Give Input() the full shape of a sample."
            )
        self.spatial_dims = tuple(spatial)
        self.input_dim = channels
        self.input_spec = InputSpec(
            ndim=self.rank + 2, shape=(None,) + inputs_shape[1:]
        )
        self._state_shape = self.compute_output_shape(inputs_shape)[0][1:]
        self.state_size = [math.prod(self._state_shape)] * 2
        width = 4 * self.filters
        self.kernel = self.add_weight(
            shape=self.kernel_size + (channels, width),
            initializer=self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=self.kernel_size + (self.filters, width),
            initializer=self.recurrent_initializer,
            name="recurrent_kernel",
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            bias_initializer = self.bias_initializer
            if self.unit_forget_bias:
                bias_initializer = self._forget_bias_initializer
            self.bias = self.add_weight(
                shape=(width,),
                name="bias",
                initializer=bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def _forget_bias_initializer(self, shape, dtype=None):
        # Keras: the forget gate's quarter starts at 1, the rest from the
        # bias initializer.
        filters = self.filters
        parts = [
            self.bias_initializer((filters,), dtype=dtype),
            initializers.get("ones")((filters,), dtype=dtype),
            self.bias_initializer((filters * 2,), dtype=dtype),
        ]
        return torch.cat([torch.as_tensor(p) for p in parts])

    def call(self, inputs, states, training=False):
        states = list(as_state_tensors(list(states), inputs))
        projected = self._project(inputs[:, None], training)[:, 0]
        return self._step(projected, states, training)

    def _channel_axis(self, ndim):
        return ndim - 1 if self.data_format == "channels_last" else 1

    def _project(self, sequences, training):
        """The input convolution plus bias of every timestep at once:
        `(batch, time, ...)` in (flattened or not), the same layout out."""
        batch, time = sequences.shape[0], sequences.shape[1]
        flat = sequences.ndim == 3
        step_shape = (
            (self.input_dim, *self.spatial_dims)
            if self.data_format == "channels_first"
            else (*self.spatial_dims, self.input_dim)
        )
        x = sequences.reshape((batch * time,) + step_shape)
        masks = None
        if training and 0.0 < self.dropout < 1.0:
            # One mask per gate, drawn for one timestep, reused at every step.
            step = sequences.reshape((batch, time) + step_shape)[:, 0]
            # After set_random_seed, RNN draws the masks before its loop on the
            # flattened step: same numbers, reshaped here.
            masks = [
                m.reshape(step.shape).repeat_interleave(time, dim=0)
                for m in self.get_dropout_mask(step)
            ]
        if masks is None:
            z = self._conv(
                x, self.kernel, self.strides, self.padding, self.dilation_rate
            )
        else:
            kernels = self.kernel.chunk(4, dim=-1)
            z = torch.cat(
                [
                    self._conv(x * m, k, self.strides, self.padding, self.dilation_rate)
                    for m, k in zip(masks, kernels)
                ],
                dim=self._channel_axis(x.ndim),
            )
        if self.bias is not None:
            z = z + self._broadcast_bias(z)
        out_shape = (batch, time) + tuple(z.shape[1:])
        return z.reshape((batch, time, -1) if flat else out_shape)

    def _broadcast_bias(self, z):
        if self.data_format == "channels_last":
            return self.bias
        return self.bias.reshape((-1,) + (1,) * self.rank)

    def _conv(self, x, kernel, strides, padding, dilation_rate=1):
        return ops.conv(
            x,
            kernel,
            strides=strides,
            padding=padding,
            data_format=self.data_format,
            dilation_rate=dilation_rate,
        )

    def _step(self, projected, states, training):
        """One timestep from the projected input; states and output keep the
        layout they came in (flattened `(batch, -1)` from the layer)."""
        h, c = states[0], states[1]
        batch = h.shape[0]
        flat = h.ndim == 2
        shaped = (batch,) + tuple(self._state_shape)
        h, c = h.reshape(shaped), c.reshape(shaped)
        z = projected.reshape((batch,) + self._gate_shape())
        axis = self._channel_axis(h.ndim)
        ones = (1,) * self.rank
        masks = None
        if training and 0.0 < self.recurrent_dropout < 1.0:
            masks = [m.reshape(h.shape) for m in self.get_recurrent_dropout_mask(h)]
        if masks is None:
            recurrent = self._conv(h, self.recurrent_kernel, ones, "same")
        else:
            kernels = self.recurrent_kernel.chunk(4, dim=-1)
            recurrent = torch.cat(
                [self._conv(h * m, k, ones, "same") for m, k in zip(masks, kernels)],
                dim=axis,
            )
        z_i, z_f, z_c, z_o = (z + recurrent).chunk(4, dim=axis)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        if flat:
            h, c = h.reshape(batch, -1), c.reshape(batch, -1)
        return h, [h, c]

    def _gate_shape(self):
        state = tuple(self._state_shape)
        if self.data_format == "channels_last":
            return state[:-1] + (4 * self.filters,)
        return (4 * self.filters,) + state[1:]

    def compute_output_shape(self, inputs_shape, states_shape=None):
        out = U.conv_output_shape(
            inputs_shape,
            self.filters,
            self.rank,
            self.kernel_size,
            self.strides,
            self.padding,
            self.data_format,
            self.dilation_rate,
            f"Layer '{self.name}' ({type(self).__name__})",
        )
        return out, [out, out]

    def get_initial_state(self, batch_size=None):
        """Zero `[h, c]`, each `(batch_size, *spatial_out, filters)` (or
        channels first)."""
        dtype = backend.to_torch_dtype(self.compute_dtype)
        device = self.kernel.device
        shape = (batch_size,) + tuple(self._state_shape)
        return [torch.zeros(shape, dtype=dtype, device=device) for _ in range(2)]

    def get_config(self):
        return {
            **super().get_config(),
            **config_of(self, _SPATIAL_ARGS),
            **config_of(
                self,
                (
                    "kernel_initializer",
                    "recurrent_initializer",
                    "bias_initializer",
                    "unit_forget_bias",
                )
                + WEIGHT_ARGS[3:]
                + ("dropout", "recurrent_dropout", "seed"),
            ),
        }


class ConvLSTM(RNN):
    """Base of ConvLSTM1D/2D/3D: an `RNN` over one `ConvLSTMCell`.

    Inputs `(batch, time, *spatial, channels)` (or `(batch, time, channels,
    *spatial)` with `channels_first`); outputs `(batch, [time,] *spatial_out,
    filters)`. The states are `[h, c]`, each shaped like one output step.
    A stateful layer keeps its states flattened to `(batch, -1)` in
    `layer.states`.

    Args:
        rank: Number of spatial axes.
        filters, kernel_size, strides, padding, data_format, dilation_rate,
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed: As in `ConvLSTMCell`.
        activity_regularizer: Penalty on the layer's outputs.
        return_sequences, return_state, go_backwards, stateful: As in `RNN`.
    """

    def __init__(
        self,
        rank,
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
        cell = ConvLSTMCell(
            rank=rank,
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
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            name="conv_lstm_cell",
            dtype=kwargs.get("dtype"),
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            **kwargs,
        )
        self.rank = rank
        self.input_spec = InputSpec(ndim=rank + 3)

    def build(self, sequences_shape, initial_state_shape=None):
        sequences_shape = tuple(sequences_shape)
        self._check_rank(sequences_shape)
        if not self.cell.built:
            step_shape = (sequences_shape[0],) + sequences_shape[2:]
            self.cell._build_with_shapes(step_shape)
        self.state_size = list(self.cell.state_size)
        # RNN's bookkeeping (stateful variables) on the flattened view.
        super().build(sequences_shape[:2] + (math.prod(sequences_shape[2:]),))
        self.input_spec = InputSpec(ndim=self.rank + 3)

    def _check_rank(self, shape):
        if len(shape) != self.rank + 3:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects inputs of "
                f"rank {self.rank + 3} (batch, time, {self.rank} spatial axes, "
                f"channels); got shape {tuple(shape)}."
            )

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self._check_rank(tuple(sequences.shape))
        batch, time = sequences.shape[0], sequences.shape[1]
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)):
                initial_state = [initial_state]
            initial_state = [
                ops.convert_to_tensor(s).reshape(batch, -1) for s in initial_state
            ]
        if mask is not None and not isinstance(mask, torch.Tensor):
            mask = backend.convert_to_tensor(
                mask, dtype="bool", device=sequences.device
            )
        result = super().call(
            sequences.reshape(batch, time, -1),
            initial_state=initial_state,
            mask=mask,
            training=training,
        )
        state_shape = (batch,) + tuple(self.cell._state_shape)
        if not self.return_state:
            return self._unflatten(result, batch, time)
        output, *states = result
        return (
            self._unflatten(output, batch, time),
            *[s.reshape(state_shape) for s in states],
        )

    def _unflatten(self, output, batch, time):
        lead = (batch, time) if self.return_sequences else (batch,)
        return output.reshape(lead + tuple(self.cell._state_shape))

    def get_initial_state(self, batch_size):
        return [
            s.reshape(batch_size, -1) for s in self.cell.get_initial_state(batch_size)
        ]

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        sequences_shape = tuple(sequences_shape)
        self._check_rank(sequences_shape)
        batch, steps = sequences_shape[0], sequences_shape[1]
        step_shape = (batch,) + sequences_shape[2:]
        state_shape = self.cell.compute_output_shape(step_shape)[0][1:]
        if self.return_sequences:
            output_shape = (batch, steps) + state_shape
        else:
            output_shape = (batch,) + state_shape
        if self.return_state:
            state = (batch,) + state_shape
            return output_shape, state, state
        return output_shape

    filters = property(lambda self: self.cell.filters)
    kernel_size = property(lambda self: self.cell.kernel_size)
    strides = property(lambda self: self.cell.strides)
    padding = property(lambda self: self.cell.padding)
    data_format = property(lambda self: self.cell.data_format)
    dilation_rate = property(lambda self: self.cell.dilation_rate)
    activation = property(lambda self: self.cell.activation)
    recurrent_activation = property(lambda self: self.cell.recurrent_activation)
    use_bias = property(lambda self: self.cell.use_bias)
    kernel_initializer = property(lambda self: self.cell.kernel_initializer)
    recurrent_initializer = property(lambda self: self.cell.recurrent_initializer)
    bias_initializer = property(lambda self: self.cell.bias_initializer)
    unit_forget_bias = property(lambda self: self.cell.unit_forget_bias)
    kernel_regularizer = property(lambda self: self.cell.kernel_regularizer)
    recurrent_regularizer = property(lambda self: self.cell.recurrent_regularizer)
    bias_regularizer = property(lambda self: self.cell.bias_regularizer)
    kernel_constraint = property(lambda self: self.cell.kernel_constraint)
    recurrent_constraint = property(lambda self: self.cell.recurrent_constraint)
    bias_constraint = property(lambda self: self.cell.bias_constraint)
    dropout = property(lambda self: self.cell.dropout)
    recurrent_dropout = property(lambda self: self.cell.recurrent_dropout)

    def get_config(self):
        config = super().get_config()
        del config["cell"]  # Keras: the cell's arguments stand in the config
        return {
            **config,
            **config_of(self, _SPATIAL_ARGS),
            **config_of(
                self,
                (
                    "kernel_initializer",
                    "recurrent_initializer",
                    "bias_initializer",
                    "unit_forget_bias",
                    "kernel_regularizer",
                    "recurrent_regularizer",
                    "bias_regularizer",
                    "activity_regularizer",
                )
                + WEIGHT_ARGS[6:]
                + ("dropout", "recurrent_dropout"),
            ),
            "seed": self.cell.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        # Keras writes these RNN arguments, which a ConvLSTM does not take.
        config.pop("unroll", None)
        config.pop("zero_output_for_mask", None)
        return cls(**config)
