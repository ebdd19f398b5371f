"""StackedRNNCells: several RNN cells that act as one, each feeding the next."""

import torch

from lamina import backend, tree
from lamina.layers.layer import Layer
from lamina.saving import serialization_lib


class StackedRNNCells(Layer):
    """Stack of RNN cells used as a single cell: at each timestep the output of
    one cell is the input of the next, and the states are the cells' states in
    order (a nested list).

    Args:
        cells: List of RNN cells (objects with `state_size` and `call(inputs,
            states)`).

    Example:
    >>> from lamina.layers.rnn.lstm import LSTMCell
    >>> from lamina.layers.rnn.gru import GRUCell
    >>> from lamina.layers.rnn.rnn import RNN
    >>> layer = RNN(StackedRNNCells([LSTMCell(8), GRUCell(4)]))
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 4)
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError(
                "StackedRNNCells expects a non-empty list of RNN cells; got []."
            )
        for cell in cells:
            if "call" not in dir(cell) or "state_size" not in dir(cell):
                raise ValueError(
                    "StackedRNNCells expects every cell to have a call(inputs, "
                    f"states) method and a `state_size` attribute; got {cell!r}."
                )
        self.cells = cells

    @property
    def state_size(self):
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def build(self, input_shape):
        batch_size = input_shape[0]
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell._build_with_shapes(tuple(input_shape))
            input_shape = (batch_size, _output_size(cell))
        self.built = True

    def get_initial_state(self, batch_size=None):
        states = []
        for cell in self.cells:
            get_initial_state_fn = getattr(cell, "get_initial_state", None)
            if get_initial_state_fn is not None:
                states.append(get_initial_state_fn(batch_size=batch_size))
                continue
            dtype = backend.to_torch_dtype(self.compute_dtype)
            sizes = cell.state_size
            zeros = [
                torch.zeros((batch_size, d), dtype=dtype, device=backend.get_device())
                for d in (sizes if isinstance(sizes, (list, tuple)) else [sizes])
            ]
            states.append(zeros if isinstance(sizes, (list, tuple)) else zeros[0])
        return states

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            was_nested = tree.is_nested(cell_states)
            cell_states = list(cell_states) if was_nested else [cell_states]
            kwargs = {}
            if isinstance(cell, Layer) and cell._call_has_training_arg:
                kwargs["training"] = training
            cell_fn = cell if callable(cell) else cell.call
            inputs, cell_states = cell_fn(inputs, cell_states, **kwargs)
            if not tree.is_nested(cell_states):
                cell_states = [cell_states]
            if len(cell_states) == 1 and not was_nested:
                cell_states = cell_states[0]
            new_states.append(cell_states)
        if len(new_states) == 1:
            new_states = new_states[0]
        return inputs, new_states

    def get_config(self):
        return {
            **super().get_config(),
            "cells": [serialization_lib.serialize_keras_object(c) for c in self.cells],
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from lamina.layers.rnn.rnn import _cell_classes

        config = dict(config)
        cells = [
            serialization_lib.deserialize_keras_object(
                c,
                module_objects=_cell_classes(),
                custom_objects=custom_objects,
                kind="RNN cell",
            )
            for c in config.pop("cells")
        ]
        return cls(cells, **config)


def _output_size(cell):
    if getattr(cell, "output_size", None) is not None:
        return cell.output_size
    if isinstance(cell.state_size, (list, tuple)):
        return cell.state_size[0]
    return cell.state_size
