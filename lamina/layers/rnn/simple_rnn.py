"""SimpleRNN: the fully connected recurrence `h = activation(x K + h R + b)`."""

import torch

from lamina.layers.rnn import _fused
from lamina.layers.rnn._rnn_utils import (
    CONSTRAINT_ARGS,
    INITIALIZER_ARGS,
    REGULARIZER_ARGS,
    WEIGHT_ARGS,
    CellRNN,
    KernelRNNCell,
    config_of,
)
from lamina.layers.rnn.rnn import as_state_tensors, is_activation


class SimpleRNNCell(KernelRNNCell):
    """One step of `SimpleRNN`: `output = activation(x @ kernel + bias + h @
    recurrent_kernel)`; the output is also the new state.

    Args:
        units: Size of the output and state, a positive int.
        activation: Defaults to `"tanh"`; `None` means linear.
        use_bias: Defaults to `True`.
        kernel_initializer: For `kernel` `(features, units)`. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: For `recurrent_kernel` `(units, units)`.
            Defaults to `"orthogonal"`.
        bias_initializer: For `bias` `(units,)`. Defaults to `"zeros"`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties.
        kernel_constraint, recurrent_constraint, bias_constraint: Projections.
        dropout: Fraction of the inputs to drop while training. Defaults to 0.
        recurrent_dropout: Fraction of the state to drop while training.
            Defaults to 0.
        seed: Int seed for the dropout masks.

    Call arguments: `sequence` `(batch, features)`, `states` (`[h]` or `h`),
    `training`. Returns `(output, new_states)`.

    Example:
    >>> cell = SimpleRNNCell(4)
    >>> out, states = cell(np.ones((2, 3), "float32"), [np.zeros((2, 4), "float32")])
    >>> tuple(out.shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
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
        super().__init__(
            units,
            activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            kernel_regularizer,
            recurrent_regularizer,
            bias_regularizer,
            kernel_constraint,
            recurrent_constraint,
            bias_constraint,
            dropout,
            recurrent_dropout,
            seed,
            **kwargs,
        )

    def build(self, input_shape):
        units = self.units
        self._build_weights(input_shape, units, (units,), self.bias_initializer)

    def call(self, sequence, states, training=False):
        states = as_state_tensors(states, sequence)
        nested = isinstance(states, (list, tuple))
        h = states[0] if nested else states
        output, _ = self._step(self._project(sequence, training), [h], training)
        return output, [output] if nested else output

    def _project(self, inputs, training):
        """`inputs @ kernel + bias` for one step or a whole sequence."""
        if training and self.dropout > 0:
            inputs = inputs * self._input_dropout_mask(inputs)
        projected = torch.matmul(inputs, self.kernel)
        return projected if self.bias is None else projected + self.bias

    def _step(self, projected, states, training):
        h = states[0]
        if training and self.recurrent_dropout > 0:
            h = h * self.get_recurrent_dropout_mask(h)
        output = self.activation(projected + torch.matmul(h, self.recurrent_kernel))
        return output, [output]

    def _fused_call(self, sequences, initial_state, training, **options):
        if is_activation(self.activation, "tanh"):
            mode = "rnn_tanh"
        elif is_activation(self.activation, "relu"):
            mode = "rnn_relu"
        else:
            return None
        if training and self.recurrent_dropout > 0:
            return None
        if training and self.dropout > 0:
            sequences = sequences * self._input_dropout_mask(sequences)
        weights = _fused.simple_rnn_weights(
            self.kernel, self.recurrent_kernel, self.bias
        )
        return _fused.run(mode, sequences, initial_state, weights, **options)

    def get_config(self):
        return {
            **super().get_config(),
            **config_of(
                self,
                ("units", "activation", "use_bias")
                + WEIGHT_ARGS
                + ("dropout", "recurrent_dropout", "seed"),
            ),
        }


class SimpleRNN(CellRNN):
    """Fully connected RNN whose output is fed back as the next step's state.

    Runs on PyTorch's fused `rnn_tanh` / `rnn_relu` kernel when the activation
    is tanh or relu (and no recurrent dropout is active), else step by step.

    Args:
        units: Size of the output and state, a positive int.
        activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint, dropout, recurrent_dropout, seed: As in
            `SimpleRNNCell`.
        activity_regularizer: Penalty on the layer's outputs.
        return_sequences, return_state, go_backwards, stateful, unroll: As in
            `RNN`.

    Input shape `(batch, timesteps, features)`; output shape `(batch, units)`,
    or `(batch, timesteps, units)` with `return_sequences=True`.

    Example:
    >>> layer = SimpleRNN(4, return_sequences=True)
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 5, 4)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        **kwargs,
    ):
        cell = SimpleRNNCell(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="simple_rnn_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )

    def get_config(self):
        # Keras's SimpleRNN config has no "seed" (LSTM's and GRU's do).
        return {
            **self._config_without_cell(),
            **config_of(
                self,
                ("units", "activation", "use_bias")
                + INITIALIZER_ARGS
                + REGULARIZER_ARGS
                + ("activity_regularizer",)
                + CONSTRAINT_ARGS
                + ("dropout", "recurrent_dropout"),
            ),
        }
