"""Bidirectional: run a recurrent layer forwards and backwards, then merge."""

import torch

from lamina.layers.layer import Layer
from lamina.saving import serialization_lib

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Wraps a recurrent layer: one copy reads the sequence forwards
    (`forward_layer`, named `forward_<name>`), another backwards
    (`backward_layer`, named `backward_<name>`), and their outputs are merged.

    Args:
        layer: A recurrent layer instance (`LSTM`, `GRU`, `SimpleRNN`, `RNN`).
            It is copied from its config, so its own weights are not used.
        merge_mode: `"concat"` (default), `"sum"`, `"mul"`, `"ave"`, or `None`
            to return `(forward_output, backward_output)`.
        weights: Initial weights, forward layer's then backward layer's.
        backward_layer: Optional layer for the backward direction (with
            `go_backwards=True`); defaults to a copy of `layer`.

    The backward output sequence is flipped back to time order before
    merging. With `return_state=True` the forward states follow the output,
    then the backward states.

    Example:
    >>> from lamina.layers.rnn.lstm import LSTM
    >>> layer = Bidirectional(LSTM(4, return_sequences=True))
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 5, 8)
    """

    def __init__(
        self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs
    ):
        if not isinstance(layer, Layer):
            raise ValueError(
                "Bidirectional expects `layer` to be a layer instance such as "
                f"LSTM(32); got layer={layer!r}."
            )
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(
                "Bidirectional expects `backward_layer` to be a layer instance or "
                f"None; got backward_layer={backward_layer!r}."
            )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                "Bidirectional expects merge_mode to be one of 'concat', 'sum', "
                f"'mul', 'ave' or None; got merge_mode={merge_mode!r}."
            )
        if weights is not None:
            kwargs["weights"] = weights
        super().__init__(**kwargs)
        self.forward_layer = _copy_layer(
            layer, "forward_" + _remove_prefix(layer.name, "forward_")
        )
        if backward_layer is None:
            self.backward_layer = _copy_layer(
                layer,
                "backward_" + _remove_prefix(layer.name, "backward_"),
                go_backwards=True,
            )
        else:
            self.backward_layer = backward_layer
        if hasattr(layer, "use_cudnn"):
            self.forward_layer.use_cudnn = layer.use_cudnn
            self.backward_layer.use_cudnn = layer.use_cudnn
        self._verify_layer_config()
        # Keras: with sequences out, masked steps give zeros in both directions,
        # so the merged output is clean where the mask is False.
        for inner in (self.forward_layer, self.backward_layer):
            if getattr(inner, "zero_output_for_mask", None) is not None:
                inner.zero_output_for_mask = inner.return_sequences
        self.merge_mode = merge_mode
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self.input_spec = layer.input_spec

    def _verify_layer_config(self):
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(
                "Bidirectional expects the forward and backward layers to have "
                "different `go_backwards` values; got "
                f"forward_layer.go_backwards={forward.go_backwards} and "
                f"backward_layer.go_backwards={backward.go_backwards}. Create "
                "backward_layer with go_backwards=True."
            )
        for name in ("stateful", "return_sequences", "return_state"):
            if getattr(forward, name) != getattr(backward, name):
                raise ValueError(
                    f"Bidirectional expects the forward and backward layers to have "
                    f"the same `{name}`; got {getattr(forward, name)!r} for the "
                    f"forward layer and {getattr(backward, name)!r} for the "
                    "backward layer."
                )

    def build(self, sequences_shape, initial_state_shape=None):
        for inner in (self.forward_layer, self.backward_layer):
            if not inner.built:
                inner._build_with_shapes(tuple(sequences_shape))
        self.built = True

    def call(self, sequences, initial_state=None, mask=None, training=None):
        kwargs = {}
        if self.forward_layer._call_has_training_arg:
            kwargs["training"] = training
        if self.forward_layer._call_has_mask_arg:
            kwargs["mask"] = mask
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state = list(initial_state[:half])
            backward_state = list(initial_state[half:])
        y = self.forward_layer(sequences, initial_state=forward_state, **kwargs)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, **kwargs)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        # Keras: the merged outputs come in the wrapper's compute dtype, which
        # may differ from the wrapped layers' (states keep theirs).
        dtype = self._compute_torch_dtype
        y, y_rev = y.to(dtype), y_rev.to(dtype)
        if self.return_sequences:
            y_rev = y_rev.flip(1)
        if self.merge_mode == "concat":
            output = torch.cat([y, y_rev], dim=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = (y, y_rev)
        if self.return_state:
            if self.merge_mode is None:
                return output + states
            return (output,) + states
        return output

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        output_shape = self.forward_layer.compute_output_shape(sequences_shape)
        state_shape = ()
        if self.return_state:
            output_shape, state_shape = output_shape[0], tuple(output_shape[1:])
        if self.merge_mode == "concat":
            output_shape = tuple(output_shape[:-1]) + (output_shape[-1] * 2,)
        elif self.merge_mode is None:
            output_shape = (tuple(output_shape), tuple(output_shape))
        if self.return_state:
            if self.merge_mode is None:
                return output_shape + state_shape + state_shape
            return (tuple(output_shape),) + state_shape + state_shape
        return tuple(output_shape)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.return_sequences:
            output_mask = mask if self.merge_mode else [mask, mask]
        else:
            output_mask = None if self.merge_mode else [None, None]
        if self.return_state:
            count = len(self.forward_layer.state_size) * 2
            if isinstance(output_mask, list):
                return output_mask + [None] * count
            return [output_mask] + [None] * count
        return output_mask

    @property
    def states(self):
        forward, backward = self.forward_layer.states, self.backward_layer.states
        if forward and backward:
            return tuple(forward) + tuple(backward)
        return None

    def reset_state(self):
        """Zero the kept states of both directions (stateful layers only)."""
        if not self.stateful:
            raise AttributeError(
                f"Layer '{self.name}' (Bidirectional) is not stateful, so it has "
                "no states to reset. Create the wrapped layer with stateful=True."
            )
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self):
        """Alias of `reset_state()` (Keras 2 name)."""
        self.reset_state()

    def get_config(self):
        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": serialization_lib.serialize_keras_object(self.forward_layer),
            "backward_layer": serialization_lib.serialize_keras_object(
                self.backward_layer
            ),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("layer", "backward_layer"):
            if config.get(key) is not None:
                config[key] = serialization_lib.deserialize_keras_object(
                    config[key],
                    module_objects=_rnn_classes(),
                    custom_objects=custom_objects,
                    kind="layer",
                )
        return cls(**config)


def _copy_layer(layer, name, go_backwards=None):
    """A fresh layer with `layer`'s config (new weights), renamed."""
    config = layer.get_config()
    config["name"] = name
    if go_backwards is not None:
        config["go_backwards"] = go_backwards
    copy = type(layer).from_config(config)
    if layer.built and not copy.built:
        build_config = layer.get_build_config()
        if build_config:
            copy.build_from_config(build_config)
    return copy


def _remove_prefix(name, prefix):
    return name[len(prefix) :] if name.startswith(prefix) else name


def _rnn_classes():
    """Recurrent layers by class name, for configs read before the public
    `lamina.layers` names exist."""
    from lamina.layers.rnn.gru import GRU
    from lamina.layers.rnn.lstm import LSTM
    from lamina.layers.rnn.rnn import RNN
    from lamina.layers.rnn.simple_rnn import SimpleRNN

    return {"GRU": GRU, "LSTM": LSTM, "RNN": RNN, "SimpleRNN": SimpleRNN}
