"""Merge: the base of layers that combine a list of tensors into one."""

import torch

from lamina import ops
from lamina.backend.keras_tensor import any_symbolic
from lamina.layers.layer import Layer


def _broadcast_shape(shape_a, shape_b, layer):
    """Keras's element-wise output shape: equal sizes, or 1 broadcasting; an
    unknown (None) size stays unknown except on the batch axis."""
    if len(shape_a) < len(shape_b):
        shape_a, shape_b = shape_b, shape_a
    shape_b = (1,) * (len(shape_a) - len(shape_b)) + tuple(shape_b)
    result = []
    for index, (a, b) in enumerate(zip(shape_a, shape_b)):
        if index and (a is None or b is None):
            # Keras: an unknown size on a non-batch axis stays unknown.
            result.append(None)
        elif a == 1:
            result.append(b)
        elif b == 1 or b is None:
            result.append(a)
        elif a is None or a == b:
            result.append(b)
        else:
            raise ValueError(
                f"Layer '{layer.name}' ({type(layer).__name__}) merges tensors of "
                f"incompatible shapes {tuple(shape_a)} and {tuple(shape_b)}; their "
                "sizes must match (or be 1) on every axis."
            )
    return tuple(result)


class Merge(Layer):
    """Base class: `call(inputs)` takes a list of at least two tensors."""

    min_inputs = 2

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or not input_shape
            or not (isinstance(input_shape[0], (list, tuple)))
        ):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) must be called on a "
                f"list of tensors; got inputs of shape {input_shape}. Write "
                f"{type(self).__name__}()([x1, x2])."
            )
        if len(input_shape) < self.min_inputs:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) needs at least "
                f"{self.min_inputs} inputs; got {len(input_shape)}."
            )
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        return self._merge_function(list(inputs))

    def _merge_function(self, inputs):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0])
        for other in input_shape[1:]:
            shape = _broadcast_shape(shape, tuple(other), self)
        return shape

    def get_config(self):
        # Defined so that the base config (with `dtype` as a serialized policy)
        # is used, not the raw constructor arguments kept for custom layers.
        return super().get_config()

    def compute_mask(self, inputs, mask=None):
        previous_mask = mask  # Keras's argument name is `mask`
        # Keras 3: a step is kept if any input keeps it (OR); an input
        # without a mask keeps every step, so the result has no mask.
        if previous_mask is None:
            return None
        self._check_mask_list(inputs, previous_mask)
        if any(m is None for m in previous_mask):
            return None
        if any_symbolic(previous_mask):
            # Built with ops, as in Keras, so the mask is a node of the graph
            # (a functional model may return it).
            result = ops.cast(previous_mask[0], "bool")
            for mask in previous_mask[1:]:
                result = ops.logical_or(result, ops.cast(mask, "bool"))
            return result
        result = torch.as_tensor(previous_mask[0], dtype=torch.bool)
        for mask in previous_mask[1:]:
            result = torch.logical_or(result, torch.as_tensor(mask, dtype=torch.bool))
        return result

    def _check_mask_list(self, inputs, mask):
        who = f"Layer '{self.name}' ({type(self).__name__})"
        if not isinstance(mask, (list, tuple)):
            raise ValueError(
                f"{who}: `mask` should be a list, one mask (or None) per input; "
                f"got {type(mask).__name__}."
            )
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"{who}: `inputs` should be a list of tensors; got "
                f"{type(inputs).__name__}."
            )
        if len(mask) != len(inputs):
            raise ValueError(
                f"{who}: `inputs` and `mask` should have the same length; got "
                f"{len(inputs)} inputs and {len(mask)} masks."
            )
