"""Concatenate: join a list of tensors along one axis."""

import torch

from lamina import ops
from lamina.backend.keras_tensor import any_symbolic
from lamina.layers.merging.base_merge import Merge


class Concatenate(Merge):
    """Concatenates the inputs along `axis`; other axes must match.

    Args:
        axis: Axis to join along. Defaults to `-1`.

    Example:
    >>> x = np.ones((2, 3), "float32")
    >>> tuple(lamina.layers.Concatenate()([x, x]).shape)
    (2, 6)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def _merge_function(self, inputs):
        return torch.cat(inputs, dim=self.axis)

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        axis = self.axis % rank if -rank <= self.axis < rank else None
        if axis is None or any(len(s) != rank for s in shapes):
            raise ValueError(
                f"Layer '{self.name}' (Concatenate) needs inputs of the same rank "
                f"with axis={self.axis} inside it; got shapes {shapes}."
            )
        out = list(shapes[0])
        for shape in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, shape)):
                if i == axis:
                    continue
                if a is not None and b is not None and a != b:
                    raise ValueError(
                        f"Layer '{self.name}' (Concatenate) requires inputs with "
                        "matching shapes except for the concatenation axis: their "
                        f"shapes must match except on the concatenation axis "
                        f"{self.axis}; got shapes {shapes}."
                    )
        # Keras: the other axes' sizes are the first input's, even unknown ones.
        sizes = [s[axis] for s in shapes]
        out[axis] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def compute_mask(self, inputs, mask=None):
        previous_mask = mask  # Keras's argument name is `mask`
        # Keras: each mask is widened to its input's shape (ones where an input
        # has none), joined along `axis`, then a step is kept if any of its
        # features is (so on the feature axis, if any input keeps it).
        if previous_mask is None:
            return None
        self._check_mask_list(inputs, previous_mask)
        if all(m is None for m in previous_mask):
            return None
        if any_symbolic((inputs, previous_mask)):
            return self._symbolic_mask(inputs, previous_mask)
        device = next((x.device for x in inputs if isinstance(x, torch.Tensor)), None)
        masks = []
        for x, mask in zip(inputs, previous_mask):
            shape = tuple(x.shape)
            if mask is None:
                mask = torch.ones(shape, dtype=torch.bool, device=device)
            else:
                mask = torch.as_tensor(mask, dtype=torch.bool, device=device)
                if mask.ndim < len(shape):
                    mask = mask.unsqueeze(-1).expand(shape)
            masks.append(mask)
        return torch.cat(masks, dim=self.axis).any(dim=-1)

    def _symbolic_mask(self, inputs, previous_mask):
        # compute_mask on KerasTensors, built with ops as in Keras, so the mask
        # is a node of the graph (a functional model may return it).
        masks = []
        for x, mask in zip(inputs, previous_mask):
            ones = ops.ones_like(x, dtype="bool")
            if mask is None:
                mask = ones
            else:
                mask = ops.cast(mask, "bool")
                if len(mask.shape) < len(x.shape):
                    mask = ops.logical_and(ops.expand_dims(mask, -1), ones)
            masks.append(mask)
        return ops.any(ops.concatenate(masks, axis=self.axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of `Concatenate`: `layers.concatenate([x1, x2], axis=-1)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)
