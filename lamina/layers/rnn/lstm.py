"""LSTM: long short-term memory (Hochreiter & Schmidhuber, 1997), Keras layout."""

import torch

from lamina import activations, constraints, initializers, random, regularizers
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer
from lamina.layers.rnn import _fused
from lamina.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from lamina.layers.rnn.rnn import (
    RNN,
    as_state_tensors,
    check_units,
    clip_rate,
    is_activation,
    zero_state,
)


class LSTMCell(Layer, DropoutRNNCell):
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
        units = check_units("LSTMCell", units)
        implementation = kwargs.pop("implementation", 2)
        super().__init__(**kwargs)
        self.implementation = implementation
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = clip_rate(dropout)
        self.recurrent_dropout = clip_rate(recurrent_dropout)
        # Keras: recurrent dropout switches to implementation 1, which draws
        # one mask per gate.
        if self.recurrent_dropout != 0.0:
            self.implementation = 1
        if self.implementation == 1:
            self.dropout_mask_count = 4
        self.seed = seed
        self.seed_generator = random.SeedGenerator(seed)
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units * 4),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units * 4),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            bias_initializer = self.bias_initializer
            if self.unit_forget_bias:
                bias_initializer = self._forget_bias_initializer
            self.bias = self.add_weight(
                shape=(self.units * 4,),
                name="bias",
                initializer=bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.built = True

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
        mask = None
        if training and 0.0 < self.dropout < 1.0:
            mask = self._input_dropout_mask(inputs)
        if isinstance(mask, list):
            parts = zip(mask, self.kernel.chunk(4, dim=1))
            projected = torch.cat([torch.matmul(inputs * m, k) for m, k in parts], -1)
        else:
            projected = torch.matmul(
                inputs if mask is None else inputs * mask, self.kernel
            )
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
        if training and 0.0 < self.recurrent_dropout < 1.0:
            return None
        if training and 0.0 < self.dropout < 1.0:
            mask = self._input_dropout_mask(sequences)
            if isinstance(mask, list):  # one mask per gate: no fused kernel
                return None
            sequences = sequences * mask
        weights = _fused.lstm_weights(self.kernel, self.recurrent_kernel, self.bias)
        return _fused.run("lstm", sequences, initial_state, weights, **options)

    def get_initial_state(self, batch_size=None):
        return [zero_state(self, batch_size, d) for d in self.state_size]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class LSTM(RNN):
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
        self.input_spec = InputSpec(ndim=3)
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                "LSTM expects use_cudnn to be 'auto', True or False; got "
                f"use_cudnn={use_cudnn!r}."
            )
        self.use_cudnn = use_cudnn

    units = property(lambda self: self.cell.units)
    activation = property(lambda self: self.cell.activation)
    recurrent_activation = property(lambda self: self.cell.recurrent_activation)
    use_bias = property(lambda self: self.cell.use_bias)
    unit_forget_bias = property(lambda self: self.cell.unit_forget_bias)
    kernel_initializer = property(lambda self: self.cell.kernel_initializer)
    recurrent_initializer = property(lambda self: self.cell.recurrent_initializer)
    bias_initializer = property(lambda self: self.cell.bias_initializer)
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
        del config["cell"]
        return {
            **config,
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.cell.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
