"""RNN: run a recurrent cell over the time axis, with Keras's masking and state."""

import numbers

import torch

from lamina import backend, tree
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer
from lamina.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from lamina.layers.rnn.stacked_rnn_cells import StackedRNNCells
from lamina.random.seed_generator import _keras_seed_order
from lamina.saving import serialization_lib


class RNN(Layer):
    """Base class of recurrent layers: applies `cell` at every timestep.

    The built-in cells (`LSTMCell`, `GRUCell` with `reset_after=True`,
    `SimpleRNNCell` with `tanh` or `relu`) run on PyTorch's fused
    whole-sequence kernel (cuDNN on GPU) when their configuration allows, and on
    a Python loop over timesteps otherwise (`unroll=True`, other activations,
    `recurrent_dropout` while training, custom and stacked cells).

    Args:
        cell: A cell, or a list of cells (stacked with `StackedRNNCells`). A cell
            has `state_size` (an int or a list of ints, one per state) and
            `call(inputs, states)` returning `(output, new_states)`; optionally
            `output_size` and `get_initial_state(batch_size)`.
        return_sequences: Return the output of every step, `(batch, time,
            units)`, instead of the last one. Defaults to `False`.
        return_state: Also return the final states: `(output, *states)`.
            Defaults to `False`.
        go_backwards: Process the sequence in reverse and return the reversed
            output sequence. Defaults to `False`.
        stateful: Keep the final states of each batch as the initial states
            of the next (a fixed batch size is required; `reset_state()`
            clears them). Defaults to `False`.
        unroll: Run a Python loop over timesteps instead of the fused kernel.
            Defaults to `False`.
        zero_output_for_mask: Output zeros (instead of the previous output) at
            masked timesteps. Defaults to `False`.

    Call arguments: `sequences` `(batch, time, features)`; `initial_state` (a
    tensor or list of tensors, `(batch, state_size)` each); `mask`
    `(batch, time)`, False where a step is skipped (the state is carried and
    the output repeats the previous one); `training`.

    Example:
    >>> from lamina.layers.rnn.lstm import LSTMCell
    >>> layer = RNN(LSTMCell(4), return_sequences=True)
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 5, 4)
    """

    _eager_only = True  # torch.compile would unroll every timestep

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if "call" not in dir(cell):
            raise ValueError(
                f"{type(self).__name__} expects `cell` to have a call(inputs, "
                f"states) method; got cell={cell!r}."
            )
        if "state_size" not in dir(cell):
            raise ValueError(
                f"{type(self).__name__} expects `cell` to have a `state_size` "
                "attribute (an int, or a list of ints with one per state); got "
                f"cell={cell!r}. Set self.state_size in the cell's __init__."
            )
        super().__init__(**kwargs)
        self.zero_output_for_mask = zero_output_for_mask
        self.cell = cell
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.unroll = unroll
        self.supports_masking = True
        self._state_structure = None
        self._expected_batch_size = None
        state_size = getattr(cell, "state_size", None)
        if isinstance(state_size, int):
            self.state_size = [state_size]
            self.single_state = True
        elif isinstance(state_size, (list, tuple)):
            self.state_size = list(state_size)
            self.single_state = False
        else:
            raise ValueError(
                f"{type(self).__name__}: the cell's `state_size` must be an int or "
                f"a list/tuple of ints; got state_size={state_size!r}."
            )

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) != 3:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects inputs of "
                f"shape (batch, timesteps, features); got shape "
                f"{tuple(sequences_shape)}."
            )
        step_shape = (sequences_shape[0],) + tuple(sequences_shape[2:])
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell._build_with_shapes(step_shape)
        self.input_spec = InputSpec(ndim=3, axes={-1: sequences_shape[-1]})
        if self.stateful:
            if self._state_structure is not None:
                self.reset_state()
            else:
                if sequences_shape[0] is None:
                    raise ValueError(
                        f"Layer '{self.name}' ({type(self).__name__}) is stateful, "
                        "so it needs a fixed batch size; got input shape "
                        f"{tuple(sequences_shape)}. Pass batch_size=... to Input() "
                        "(and the same batch_size to fit())."
                    )
                self._create_state_variables(sequences_shape[0])
        self.built = True

    # --- states -------------------------------------------------------------

    def _create_state_variables(self, batch_size):
        states = self.get_initial_state(batch_size)
        self._state_structure = tree.map_structure(lambda _: None, states)
        self._expected_batch_size = batch_size
        for i, value in enumerate(tree.flatten(states)):
            self.register_buffer(f"_rnn_state_{i}", value, persistent=False)

    @property
    def states(self):
        """The kept states of a stateful layer (a list), else None."""
        if self._state_structure is None:
            return None
        flat = [
            getattr(self, f"_rnn_state_{i}")
            for i in range(len(tree.flatten(self._state_structure)))
        ]
        return tree.pack_sequence_as(self._state_structure, flat)

    def _assign_states(self, states):
        # Rebind instead of copying in place: the old tensors may be saved for
        # the backward pass of the step that used them.
        for i, value in enumerate(tree.flatten(states)):
            setattr(self, f"_rnn_state_{i}", value.detach())

    def get_initial_state(self, batch_size):
        """Zero states for `batch_size` samples (or the cell's own initial state)."""
        get_initial_state_fn = getattr(self.cell, "get_initial_state", None)
        if get_initial_state_fn is not None:
            init_state = get_initial_state_fn(batch_size=batch_size)
            if not tree.is_nested(init_state):
                init_state = [init_state]
            return list(init_state)
        dtype = backend.to_torch_dtype(
            getattr(self.cell, "compute_dtype", None) or backend.floatx()
        )
        return [
            torch.zeros((batch_size, d), dtype=dtype, device=backend.get_device())
            for d in self.state_size
        ]

    def reset_state(self):
        """Set the kept states of a stateful layer back to zeros."""
        if self._state_structure is not None:
            self._assign_states(
                [torch.zeros_like(s) for s in tree.flatten(self.states)]
            )

    def reset_states(self):
        """Alias of `reset_state()` (Keras 2 name)."""
        self.reset_state()

    # --- calling ------------------------------------------------------------

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if sequences.ndim != 3:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects inputs of "
                "shape (batch, timesteps, features); got shape "
                f"{tuple(sequences.shape)}."
            )
        if not sequences.is_floating_point():
            # Keras: bool/int sequences (one-hot arrays) promote to floats in the
            # cell's matmul; the fused kernels need them cast first.
            sequences = sequences.to(backend.to_torch_dtype(self.compute_dtype))
        batch_size, timesteps = sequences.shape[0], sequences.shape[1]
        if timesteps == 0:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) got a sequence with "
                f"0 timesteps (shape {tuple(sequences.shape)}); it needs at least 1."
            )
        if tree.is_nested(mask):
            mask = tree.flatten(mask)[0]
        if mask is not None:  # a NumPy or list mask works too
            mask = torch.as_tensor(mask, device=sequences.device)
        if mask is not None and tuple(mask.shape[:2]) != (batch_size, timesteps):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects a mask of "
                f"shape (batch, timesteps) = {(batch_size, timesteps)}; got mask "
                f"shape {tuple(mask.shape)}."
            )
        if initial_state is None:
            if self.stateful:
                initial_state = self.states
            else:
                initial_state = self.get_initial_state(batch_size)
        if self.stateful and batch_size != self._expected_batch_size:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) is stateful and keeps "
                f"states for batches of {self._expected_batch_size} samples; got a "
                f"batch of {batch_size}. Use the same batch size in every call "
                "(fit(..., batch_size=...) must match Input(batch_size=...))."
            )
        initial_state = self._standardize_states(initial_state, sequences)
        self._reset_dropout_masks(self.cell)
        try:
            if _keras_seed_order():
                # Keras draws every cell's masks before its loop, training or
                # not: after set_random_seed, draw them alike, so that torch's
                # generator (and later dropout) follows Keras's.
                self._draw_dropout_masks(self.cell, sequences[:, 0], initial_state)
            last_output, outputs, states = self.inner_loop(
                sequences, initial_state, mask, training=bool(training)
            )
        finally:
            self._reset_dropout_masks(self.cell)
        dtype = self._compute_torch_dtype
        if last_output.dtype != dtype:  # Keras casts to the compute dtype
            last_output, outputs = last_output.to(dtype), outputs.to(dtype)
            states = tree.map_structure(lambda s: s.to(dtype), states)
        if self.stateful:
            self._assign_states(states)
        output = outputs if self.return_sequences else last_output
        if self.return_state:
            return (output, *states)
        return output

    def _standardize_states(self, initial_state, sequences):
        if not tree.is_nested(initial_state):
            initial_state = [initial_state]
        initial_state = list(initial_state)
        expected = len(tree.flatten(self.state_size))
        got = len(tree.flatten(initial_state))
        if got != expected:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) has {expected} "
                f"state tensor(s) (state_size={self.state_size}); got "
                f"initial_state with {got}. An LSTM takes [h, c], a GRU or "
                "SimpleRNN takes [h]."
            )

        def _convert(state):
            if (
                isinstance(state, torch.Tensor)
                and state.dtype == sequences.dtype
                and state.device == sequences.device
            ):
                return state
            state = backend.convert_to_tensor(state)
            return state.to(device=sequences.device, dtype=sequences.dtype)

        return tree.map_structure(_convert, initial_state)

    def _draw_dropout_masks(self, cell, step, states):
        state = states[0] if isinstance(states, (list, tuple)) else states
        if isinstance(cell, DropoutRNNCell):
            cell.get_dropout_mask(step)
            cell.get_recurrent_dropout_mask(state)
        if isinstance(cell, StackedRNNCells):
            for inner, inner_states in zip(cell.cells, states):
                self._draw_dropout_masks(inner, step, inner_states)
                # As Keras: the next cell's step input is this cell's output.
                inner_states = (
                    list(inner_states)
                    if tree.is_nested(inner_states)
                    else [inner_states]
                )
                step, _ = inner(step, inner_states)

    def _reset_dropout_masks(self, cell):
        if isinstance(cell, DropoutRNNCell):
            cell.reset_dropout_mask()
            cell.reset_recurrent_dropout_mask()
        if isinstance(cell, StackedRNNCells):
            for inner in cell.cells:
                self._reset_dropout_masks(inner)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """Run the cell over the sequence: `(last_output, outputs, states)`.

        Uses the cell's fused kernel where it has one and the configuration
        allows it, else a loop over timesteps.
        """
        fused = getattr(self.cell, "_fused_call", None)
        use_fused = getattr(self, "use_cudnn", "auto") in ("auto", True)
        if fused is not None and use_fused and not self.unroll:
            result = fused(
                sequences,
                initial_state,
                mask=mask,
                go_backwards=self.go_backwards,
                return_sequences=self.return_sequences,
                zero_output_for_mask=self.zero_output_for_mask,
                training=training,
            )
            if result is not None:
                return result
        if getattr(self, "use_cudnn", "auto") is True:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) was created with "
                "use_cudnn=True, but this configuration cannot run on the fused "
                "kernel (it needs activation='tanh', recurrent_activation="
                "'sigmoid', no recurrent_dropout while training, unroll=False"
                + (", reset_after=True" if hasattr(self.cell, "reset_after") else "")
                + "). Pass use_cudnn='auto' to fall back to the step-by-step loop."
            )
        return self._loop(sequences, initial_state, mask, training)

    def _loop(self, sequences, initial_state, mask, training):
        cell = self.cell
        if self.go_backwards:
            sequences = sequences.flip(1)
            mask = None if mask is None else mask.flip(1)
        if mask is not None:
            mask = mask.to(torch.bool)
        if hasattr(cell, "_project") and hasattr(cell, "_step"):
            # Built-in cells: one matmul projects every timestep's inputs.
            inputs = cell._project(sequences, training)

            def step(x, states):
                return cell._step(x, states, training)

        else:
            inputs = sequences
            kwargs = {}
            if isinstance(cell, Layer) and cell._call_has_training_arg:
                kwargs["training"] = training
            cell_fn = cell if callable(cell) else cell.call

            def step(x, states):
                output, new_states = cell_fn(x, tuple(states), **kwargs)
                if not tree.is_nested(new_states):
                    new_states = [new_states]
                return output, new_states

        states = initial_state
        outputs = []
        previous = None
        for t in range(inputs.shape[1]):
            output, new_states = step(inputs[:, t], states)
            if mask is not None:
                keep = mask[:, t]
                if self.zero_output_for_mask or previous is None:
                    previous = torch.zeros_like(output)
                output = torch.where(_expand(keep, output), output, previous)
                flat = [
                    torch.where(_expand(keep, new), new, old)
                    for new, old in zip(tree.flatten(new_states), tree.flatten(states))
                ]
                new_states = tree.pack_sequence_as(new_states, flat)
            previous = output
            states = new_states
            if self.return_sequences:
                outputs.append(output)
        last_output = output
        if self.return_sequences:
            outputs = torch.stack(outputs, dim=1)
        else:
            outputs = last_output[:, None]
        return last_output, outputs, list(states)

    # --- shapes, masks, config ------------------------------------------------

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch_size, length = sequences_shape[0], sequences_shape[1]
        states_shape = []
        for size in self.state_size:
            if isinstance(size, int):
                states_shape.append((batch_size, size))
            else:
                states_shape.append([(batch_size, s) for s in size])
        output_size = getattr(self.cell, "output_size", None)
        if output_size is None:
            output_size = self.state_size[0]
        if self.return_sequences:
            output_shape = (batch_size, length, output_size)
        else:
            output_shape = (batch_size, output_size)
        if self.return_state:
            return (output_shape, *states_shape)
        return output_shape

    def compute_mask(self, inputs, mask=None):
        mask = tree.flatten(mask)[0] if tree.is_nested(mask) else mask
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None for _ in self.state_size]
        return output_mask

    def get_config(self):
        return {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "cell": serialization_lib.serialize_keras_object(self.cell),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = serialization_lib.deserialize_keras_object(
            config.pop("cell"),
            module_objects=_cell_classes(),
            custom_objects=custom_objects,
            kind="RNN cell",
        )
        return cls(cell, **config)


def check_units(class_name, units) -> int:
    """`units` as an int; a ValueError unless it is a positive integer."""
    if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units < 1:
        raise ValueError(
            f"{class_name} expects `units` to be a positive int (the size of the "
            f"output and state); got units={units!r}. For 32 units write "
            f"{class_name}(32)."
        )
    return int(units)


def clip_rate(rate):
    """A dropout rate clipped into [0, 1], as Keras's cells do."""
    return min(1.0, max(0.0, float(rate)))


def is_activation(fn, *names):
    """Whether `fn` is one of the named lamina/torch activations (e.g. "tanh")."""
    from lamina import activations

    for name in names:
        if fn is getattr(activations, name) or fn is getattr(torch, name, None):
            return True
    return False


def as_state_tensors(states, inputs):
    """States given as arrays (a cell called directly) as tensors like `inputs`."""
    return tree.map_structure(
        lambda s: (
            s
            if isinstance(s, torch.Tensor)
            else backend.convert_to_tensor(s, dtype=inputs.dtype, device=inputs.device)
        ),
        states,
    )


def zero_state(cell, batch_size, size):
    """A zero state `(batch_size, size)` on the cell's device, in its compute dtype."""
    dtype = getattr(cell, "_compute_torch_dtype", None)
    if dtype is None:  # a cell whose Layer.__init__ has not run
        dtype = backend.to_torch_dtype(cell.compute_dtype)
    kernel = getattr(cell, "kernel", None)
    device = kernel.device if kernel is not None else backend.get_device()
    return torch.zeros((batch_size, size), dtype=dtype, device=device)


def _expand(keep, like):
    """A `(batch,)` mask shaped to broadcast against `like` `(batch, ...)`."""
    return keep.view((keep.shape[0],) + (1,) * (like.ndim - 1))


def _cell_classes():
    """The built-in cells by class name, for configs read before the public
    `lamina.layers` names exist (and for files written by Keras)."""
    from lamina.layers.rnn.gru import GRUCell
    from lamina.layers.rnn.lstm import LSTMCell
    from lamina.layers.rnn.simple_rnn import SimpleRNNCell

    return {
        "GRUCell": GRUCell,
        "LSTMCell": LSTMCell,
        "SimpleRNNCell": SimpleRNNCell,
        "StackedRNNCells": StackedRNNCells,
    }
