"""GRU: gated recurrent unit (Cho et al., 2014), Keras layout."""

import torch

from lamina import activations
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


class GRUCell(KernelRNNCell):
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
        self._set_implementation(implementation, gates=3)
        self.reset_after = reset_after

    def build(self, input_shape):
        # reset_after keeps separate input and recurrent biases.
        units = self.units
        bias_shape = (2, 3 * units) if self.reset_after else (3 * units,)
        self._build_weights(input_shape, 3 * units, bias_shape, self.bias_initializer)

    def call(self, inputs, states, training=False):
        states = as_state_tensors(states, inputs)
        nested = isinstance(states, (list, tuple))
        h = states[0] if nested else states
        h, _ = self._step(self._project(inputs, training), [h], training)
        return h, [h] if nested else h

    def _project(self, inputs, training):
        """`inputs @ kernel + input_bias` for one step or a whole sequence."""
        projected = self._project_gates(inputs, 3, training)
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
        return self._fused_gates(
            "gru", _fused.gru_weights, sequences, initial_state, training, **options
        )

    def get_config(self):
        return {
            **super().get_config(),
            **config_of(
                self,
                ("units", "activation", "recurrent_activation", "use_bias")
                + WEIGHT_ARGS
                + ("dropout", "recurrent_dropout", "reset_after", "seed"),
            ),
        }


class GRU(CellRNN):
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
        self._set_use_cudnn(use_cudnn)

    recurrent_activation = property(lambda self: self.cell.recurrent_activation)
    reset_after = property(lambda self: self.cell.reset_after)

    def get_config(self):
        return {
            **self._config_without_cell(),
            **config_of(
                self,
                ("units", "activation", "recurrent_activation", "use_bias")
                + INITIALIZER_ARGS
                + REGULARIZER_ARGS
                + ("activity_regularizer",)
                + CONSTRAINT_ARGS
                + ("dropout", "recurrent_dropout", "reset_after"),
            ),
            "seed": self.cell.seed,
        }
