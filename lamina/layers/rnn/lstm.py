"""LSTM: long short-term memory (Hochreiter & Schmidhuber, 1997), Keras layout."""

import torch

from lamina import activations, initializers
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


class LSTMCell(KernelRNNCell):
    """One LSTM step. Gates are packed along the last axis in Keras's order
    i (input), f (forget), c (candidate), o (output):

    `z = x @ kernel + h @ recurrent_kernel + bias`, `c' = f * c + i * tanh(z_c)`,
    `h' = o * tanh(c')`, with the gates `sigmoid(z_i)`, `sigmoid(z_f)`,
    `sigmoid(z_o)` (`activation` and `recurrent_activation` replace tanh and
    sigmoid).

    Args:
        units: Size of the output and of both states, a positive int.
        activation: Defaults to `"tanh"`.
        recurrent_activation: Activation of the gates. Defaults to `"sigmoid"`.
        use_bias: Defaults to `True`.
        kernel_initializer: For `kernel` `(features, 4 * units)`. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: For `recurrent_kernel` `(units, 4 * units)`.
            Defaults to `"orthogonal"`.
        bias_initializer: For `bias` `(4 * units,)`. Defaults to `"zeros"`.
        unit_forget_bias: Add 1 to the forget gate's bias at initialization.
            Defaults to `True`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties.
        kernel_constraint, recurrent_constraint, bias_constraint: Projections.
        dropout: Fraction of the inputs to drop while training. Defaults to 0.
        recurrent_dropout: Fraction of the state `h` to drop while training.
            Defaults to 0.
        seed: Int seed for the dropout masks.

    Call arguments: `inputs` `(batch, features)`, `states` `[h, c]`,
    `training`. Returns `(h, [h, c])`.

    Example:
    >>> cell = LSTMCell(4)
    >>> zeros = np.zeros((2, 4), "float32")
    >>> h, (h, c) = cell(np.ones((2, 3), "float32"), [zeros, zeros])
    >>> tuple(c.shape)
    (2, 4)
    """

    _seed_generator_first = False  # Keras's order; see KernelRNNCell

    def __init__(
        self,
        units,
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
        implementation = kwargs.pop("implementation", 2)
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
        self.recurrent_activation = activations.get(recurrent_activation)
        self._set_implementation(implementation, gates=4)
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [self.units, self.units]

    def build(self, input_shape):
        bias_initializer = self.bias_initializer
        if self.unit_forget_bias:
            bias_initializer = self._forget_bias_initializer
        width = 4 * self.units
        self._build_weights(input_shape, width, (width,), bias_initializer)

    def _forget_bias_initializer(self, shape, dtype=None):
        # Keras: the forget gate's quarter starts at 1, the rest from the
        # bias initializer.
        units = self.units
        parts = [
            self.bias_initializer((units,), dtype=dtype),
            initializers.get("ones")((units,), dtype=dtype),
            self.bias_initializer((units * 2,), dtype=dtype),
        ]
        return torch.cat([torch.as_tensor(p) for p in parts])

    def call(self, inputs, states, training=False):
        states = list(as_state_tensors(list(states), inputs))
        return self._step(self._project(inputs, training), states, training)

    def _project(self, inputs, training):
        """`inputs @ kernel + bias` for one step or a whole sequence."""
        projected = self._project_gates(inputs, 4, training)
        return projected if self.bias is None else projected + self.bias

    def _step(self, projected, states, training):
        h, c = states[0], states[1]
        mask = None
        if training and 0.0 < self.recurrent_dropout < 1.0:
            mask = self.get_recurrent_dropout_mask(h)
        if isinstance(mask, list):
            parts = zip(mask, self.recurrent_kernel.chunk(4, dim=1))
            recurrent = torch.cat([torch.matmul(h * m, r) for m, r in parts], -1)
        else:
            recurrent = torch.matmul(
                h if mask is None else h * mask, self.recurrent_kernel
            )
        z_i, z_f, z_c, z_o = (projected + recurrent).chunk(4, dim=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def _fused_call(self, sequences, initial_state, training, **options):
        if not (
            is_activation(self.activation, "tanh")
            and is_activation(self.recurrent_activation, "sigmoid")
        ):
            return None
        return self._fused_gates(
            "lstm", _fused.lstm_weights, sequences, initial_state, training, **options
        )

    def get_config(self):
        return {
            **super().get_config(),
            **config_of(
                self,
                (
                    "units",
                    "activation",
                    "recurrent_activation",
                    "use_bias",
                    "unit_forget_bias",
                )
                + WEIGHT_ARGS
                + ("dropout", "recurrent_dropout", "seed"),
            ),
        }


class LSTM(CellRNN):
    """Long short-term memory layer over `(batch, timesteps, features)` inputs.

    With the default activations, no recurrent dropout while training and
    `unroll=False`, the whole sequence runs on PyTorch's fused LSTM kernel
    (cuDNN on GPU), masks included; other configurations loop over timesteps.
    Weights stay in Keras's layout (`self.cell.kernel` `(features, 4 * units)`,
    gates i, f, c, o), so files and `get_weights()` match Keras.

    Args:
        units: Size of the output and states, a positive int.
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed: As in `LSTMCell`.
        activity_regularizer: Penalty on the layer's outputs.
        return_sequences, return_state, go_backwards, stateful, unroll: As in
            `RNN`. With `return_state=True` the call returns `(output, h, c)`.
        use_cudnn: `"auto"` (default) uses the fused kernel when possible;
            `False` always loops; `True` raises if the fused kernel cannot run.

    Example:
    >>> output, h, c = LSTM(4, return_state=True)(np.ones((2, 5, 3), "float32"))
    >>> tuple(output.shape), tuple(c.shape)
    ((2, 4), (2, 4))
    """

    def __init__(
        self,
        units,
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
        unroll=False,
        use_cudnn="auto",
        **kwargs,
    ):
        cell = LSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            unit_forget_bias=unit_forget_bias,
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
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="lstm_cell",
            seed=seed,
            implementation=kwargs.pop("implementation", 2),
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
        self._set_use_cudnn(use_cudnn)

    recurrent_activation = property(lambda self: self.cell.recurrent_activation)
    unit_forget_bias = property(lambda self: self.cell.unit_forget_bias)

    def get_config(self):
        return {
            **self._config_without_cell(),
            **config_of(
                self,
                ("units", "activation", "recurrent_activation", "use_bias")
                + INITIALIZER_ARGS
                + ("unit_forget_bias",)
                + REGULARIZER_ARGS
                + ("activity_regularizer",)
                + CONSTRAINT_ARGS
                + ("dropout", "recurrent_dropout"),
            ),
            "seed": self.cell.seed,
        }
