"""GRU: gated recurrent unit (Cho et al., 2014), Keras layout."""

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


class GRUCell(Layer, DropoutRNNCell):
    """One GRU step. Gates are packed along the last axis in Keras's order
    z (update), r (reset), h (candidate); the new state is
    `z * h + (1 - z) * candidate`.

    With `reset_after=True` (the default, cuDNN's convention) the reset gate
    multiplies `h @ recurrent_kernel_h + recurrent_bias_h`, and `bias` is
    `(2, 3 * units)` = `[input_bias, recurrent_bias]`; with `reset_after=False`
    it multiplies `h` before that matmul and `bias` is `(3 * units,)`.

    Args:
        units: Size of the output and state, a positive int.
        activation: Defaults to `"tanh"`.
        recurrent_activation: Activation of the gates. Defaults to `"sigmoid"`.
        use_bias: Defaults to `True`.
        kernel_initializer: For `kernel` `(features, 3 * units)`. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: For `recurrent_kernel` `(units, 3 * units)`.
            Defaults to `"orthogonal"`.
        bias_initializer: Defaults to `"zeros"`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties.
        kernel_constraint, recurrent_constraint, bias_constraint: Projections.
        dropout: Fraction of the inputs to drop while training. Defaults to 0.
        recurrent_dropout: Fraction of the state to drop while training.
            Defaults to 0.
        reset_after: Where the reset gate applies (see above). Defaults to
            `True`.
        seed: Int seed for the dropout masks.

    Call arguments: `inputs` `(batch, features)`, `states` (`[h]` or `h`),
    `training`. Returns `(h, [h])` (or `(h, h)` for a bare `h`).

    Example:
    >>> cell = GRUCell(4)
    >>> h, _ = cell(np.ones((2, 3), "float32"), [np.zeros((2, 4), "float32")])
    >>> tuple(h.shape)
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
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        **kwargs,
    ):
        units = check_units("GRUCell", units)
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
            self.dropout_mask_count = 3
        self.seed = seed
        self.seed_generator = random.SeedGenerator(seed)
        self.reset_after = reset_after
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units * 3),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units * 3),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            # reset_after keeps separate input and recurrent biases.
            shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
            self.bias = self.add_weight(
                shape=shape,
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.built = True

    def call(self, inputs, states, training=False):
        states = as_state_tensors(states, inputs)
        nested = isinstance(states, (list, tuple))
        h = states[0] if nested else states
        h, _ = self._step(self._project(inputs, training), [h], training)
        return h, [h] if nested else h

    def _project(self, inputs, training):
        """`inputs @ kernel + input_bias` for one step or a whole sequence."""
        mask = None
        if training and 0.0 < self.dropout < 1.0:
            mask = self._input_dropout_mask(inputs)
        if isinstance(mask, list):
            parts = zip(mask, self.kernel.chunk(3, dim=1))
            projected = torch.cat([torch.matmul(inputs * m, k) for m, k in parts], -1)
        else:
            projected = torch.matmul(
                inputs if mask is None else inputs * mask, self.kernel
            )
        if self.bias is None:
            return projected
        return projected + (self.bias[0] if self.reset_after else self.bias)

    def _step(self, projected, states, training):
        h = states[0]
        units = self.units
        kernel_z, kernel_r, kernel_h = self.recurrent_kernel.chunk(3, dim=1)
        x_z, x_r, x_h = projected.chunk(3, dim=-1)
        mask = None
        if training and 0.0 < self.recurrent_dropout < 1.0:
            mask = self.get_recurrent_dropout_mask(h)
        if not isinstance(mask, list):
            mask = [mask] * 3
        h_z, h_r, h_h = (h if m is None else h * m for m in mask)
        recurrent_bias = None
        if self.bias is not None and self.reset_after:
            recurrent_bias = self.bias[1]
        if mask[0] is None and self.reset_after:
            # One matmul for the three gates.
            inner = torch.matmul(h, self.recurrent_kernel)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
            rec_z, rec_r, rec_h = inner.chunk(3, dim=-1)
        elif mask[0] is None:
            # One matmul for the update and reset gates.
            inner = torch.matmul(h, self.recurrent_kernel[:, : 2 * units])
            rec_z, rec_r = inner.chunk(2, dim=-1)
        else:
            rec_z = torch.matmul(h_z, kernel_z)
            rec_r = torch.matmul(h_r, kernel_r)
            if recurrent_bias is not None:
                rec_z = rec_z + recurrent_bias[:units]
                rec_r = rec_r + recurrent_bias[units : 2 * units]
        z = self.recurrent_activation(x_z + rec_z)
        r = self.recurrent_activation(x_r + rec_r)
        if self.reset_after:
            if mask[0] is not None:
                rec_h = torch.matmul(h_h, kernel_h)
                if recurrent_bias is not None:
                    rec_h = rec_h + recurrent_bias[2 * units :]
            rec_h = r * rec_h
        else:
            rec_h = torch.matmul(r * h_h, kernel_h)
        candidate = self.activation(x_h + rec_h)
        h = z * h + (1 - z) * candidate
        return h, [h]

    def _fused_call(self, sequences, initial_state, training, **options):
        if not (
            self.reset_after
            and is_activation(self.activation, "tanh")
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
        weights = _fused.gru_weights(self.kernel, self.recurrent_kernel, self.bias)
        return _fused.run("gru", sequences, initial_state, weights, **options)

    def get_initial_state(self, batch_size=None):
        return [zero_state(self, batch_size, self.state_size)]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
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
            "reset_after": self.reset_after,
            "seed": self.seed,
        }


class GRU(RNN):
    """Gated recurrent unit layer over `(batch, timesteps, features)` inputs.

    With `reset_after=True`, the default activations, no recurrent dropout
    while training and `unroll=False`, the whole sequence runs on PyTorch's
    fused GRU kernel (cuDNN on GPU), masks included, with the weights
    reordered on the fly from Keras's gates z, r, h to PyTorch's r, z, n.
    Other configurations (`reset_after=False` among them) loop over timesteps.

    Args:
        units: Size of the output and state, a positive int.
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, kernel_regularizer,
        recurrent_regularizer, bias_regularizer, kernel_constraint,
        recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
        reset_after, seed: As in `GRUCell`.
        activity_regularizer: Penalty on the layer's outputs.
        return_sequences, return_state, go_backwards, stateful, unroll: As in
            `RNN`. With `return_state=True` the call returns `(output, h)`.
        use_cudnn: `"auto"` (default) uses the fused kernel when possible;
            `False` always loops; `True` raises if the fused kernel cannot run.

    Example:
    >>> tuple(GRU(4)(np.ones((2, 5, 3), "float32")).shape)
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
        reset_after=True,
        use_cudnn="auto",
        **kwargs,
    ):
        cell = GRUCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
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
            reset_after=reset_after,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="gru_cell",
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
                "GRU expects use_cudnn to be 'auto', True or False; got "
                f"use_cudnn={use_cudnn!r}."
            )
        self.use_cudnn = use_cudnn

    units = property(lambda self: self.cell.units)
    activation = property(lambda self: self.cell.activation)
    recurrent_activation = property(lambda self: self.cell.recurrent_activation)
    use_bias = property(lambda self: self.cell.use_bias)
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
    reset_after = property(lambda self: self.cell.reset_after)

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
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "reset_after": self.reset_after,
            "seed": self.cell.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
