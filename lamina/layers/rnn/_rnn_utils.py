"""What SimpleRNN, LSTM and GRU share: their cells' common arguments, weights and
configs, and the layer that wraps one such cell."""

import torch

from lamina import activations, constraints, initializers, random, regularizers
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer
from lamina.layers.rnn import _fused
from lamina.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from lamina.layers.rnn.rnn import RNN, check_units, clip_rate, zero_state

# Constructor arguments every built-in cell (and its layer) takes, in the order
# Keras writes them into configs.
INITIALIZER_ARGS = ("kernel_initializer", "recurrent_initializer", "bias_initializer")
REGULARIZER_ARGS = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer")
CONSTRAINT_ARGS = ("kernel_constraint", "recurrent_constraint", "bias_constraint")
WEIGHT_ARGS = INITIALIZER_ARGS + REGULARIZER_ARGS + CONSTRAINT_ARGS

_SERIALIZERS = (
    ("activation", activations.serialize),
    ("_initializer", initializers.serialize),
    ("_regularizer", regularizers.serialize),
    ("_constraint", constraints.serialize),
)


def config_of(obj, names) -> dict:
    """`{name: obj.name}` for the constructor arguments `names`, in that order;
    activations, initializers, regularizers and constraints serialized."""
    config = {}
    for name in names:
        value = getattr(obj, name)
        for suffix, serialize in _SERIALIZERS:
            if name.endswith(suffix):
                value = serialize(value)
                break
        config[name] = value
    return config


class KernelRNNCell(Layer, DropoutRNNCell):
    """Base of `SimpleRNNCell`, `LSTMCell` and `GRUCell`: stores the arguments
    they share (documented on each cell) and creates their weights `kernel`,
    `recurrent_kernel` and `bias`, in Keras's order."""

    # Keras's SimpleRNNCell makes its seed generator before its initializers,
    # LSTMCell and GRUCell after; unseeded, each takes a default seed, so the
    # order decides which initial weights `set_random_seed(s)` gives.
    _seed_generator_first = True

    def __init__(
        self,
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
    ):
        units = check_units(type(self).__name__, units)
        super().__init__(**kwargs)
        self.seed = seed
        if self._seed_generator_first:
            self.seed_generator = random.SeedGenerator(seed)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        if not self._seed_generator_first:
            self.seed_generator = random.SeedGenerator(seed)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = clip_rate(dropout)
        self.recurrent_dropout = clip_rate(recurrent_dropout)
        self.state_size = units
        self.output_size = units

    def _set_implementation(self, implementation, gates):
        # Keras: recurrent dropout switches to implementation 1, which draws
        # one mask per gate.
        self.implementation = implementation
        if self.recurrent_dropout != 0.0:
            self.implementation = 1
        if self.implementation == 1:
            self.dropout_mask_count = gates

    def _build_weights(self, input_shape, width, bias_shape, bias_initializer):
        """`kernel` `(features, width)`, `recurrent_kernel` `(units, width)`,
        then `bias` of `bias_shape` (or `None` without `use_bias`): files and
        `get_weights()` depend on this order."""
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=bias_shape,
                name="bias",
                initializer=bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.built = True

    def _project_gates(self, inputs, gates, training):
        """`inputs @ kernel` for one step or a whole sequence, with the input
        dropout mask applied while training (one mask per gate when there are
        several, each on its slice of `kernel`)."""
        mask = None
        if training and 0.0 < self.dropout < 1.0:
            mask = self._input_dropout_mask(inputs)
        if isinstance(mask, list):
            parts = zip(mask, self.kernel.chunk(gates, dim=1))
            return torch.cat([torch.matmul(inputs * m, k) for m, k in parts], -1)
        return torch.matmul(inputs if mask is None else inputs * mask, self.kernel)

    def _fused_gates(
        self, mode, weights_fn, sequences, initial_state, training, **options
    ):
        """The fused kernel's result for a gated cell (LSTM, GRU), or `None`
        when dropout asks for the step-by-step loop."""
        if training and 0.0 < self.recurrent_dropout < 1.0:
            return None
        if training and 0.0 < self.dropout < 1.0:
            mask = self._input_dropout_mask(sequences)
            if isinstance(mask, list):  # one mask per gate: no fused kernel
                return None
            sequences = sequences * mask
        weights = weights_fn(self.kernel, self.recurrent_kernel, self.bias)
        return _fused.run(mode, sequences, initial_state, weights, **options)

    def get_initial_state(self, batch_size=None):
        sizes = (
            self.state_size if isinstance(self.state_size, list) else [self.state_size]
        )
        return [zero_state(self, batch_size, size) for size in sizes]


class CellRNN(RNN):
    """Base of `SimpleRNN`, `LSTM` and `GRU`: an `RNN` over one built-in cell,
    whose arguments it shows as its own (read-only) attributes and config."""

    def __init__(self, cell, **kwargs):
        super().__init__(cell, **kwargs)
        self.input_spec = InputSpec(ndim=3)

    units = property(lambda self: self.cell.units)
    activation = property(lambda self: self.cell.activation)
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

    def _set_use_cudnn(self, use_cudnn):
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                f"{type(self).__name__} expects use_cudnn to be 'auto', True or "
                f"False; got use_cudnn={use_cudnn!r}."
            )
        self.use_cudnn = use_cudnn

    def _config_without_cell(self):
        # Keras: the cell's arguments stand in the layer's config instead.
        config = super().get_config()
        del config["cell"]
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
