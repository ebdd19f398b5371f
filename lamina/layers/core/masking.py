"""Masking: mark the time steps whose features all equal `mask_value` as padding."""

import torch

from lamina import backend, ops
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.layer import Layer


class Masking(Layer):
    """Masks every step (an index of the second-to-last axis) whose values all
    equal `mask_value`: the output is zero there and carries the mask
    `any(inputs != mask_value, axis=-1)` (True = keep) for the next layers.

    Args:
        mask_value: The padding value. Defaults to `0.0`.

    Input and output shape `(batch, steps, features)` (any rank >= 2 works).

    Example:
    >>> x = np.array([[[1.0, 2.0], [0.0, 0.0]]], "float32")
    >>> out = lamina.layers.Masking()(x)
    >>> out._keras_mask.tolist()
    [[True, False]]
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        # A value saved as a tensor comes back as a serialized dict.
        if isinstance(mask_value, dict) and mask_value.get("config", None):
            from lamina.saving.serialization_lib import deserialize_keras_object

            mask_value = deserialize_keras_object(mask_value)
        self.mask_value = mask_value
        self.supports_masking = True
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build
        # (inputs, keep) from the last call(), so that compute_mask(), which the
        # base class calls right after it on the same inputs, does not compute
        # the comparison a second time (it costs as much as the rest of call).
        self._last_keep = None

    def call(self, inputs):
        keep = (inputs != self.mask_value).any(dim=-1, keepdim=True)
        self._last_keep = (inputs, keep)
        # Keras: where(), not a product, so an inf mask_value still gives 0.
        return inputs.where(keep, 0)

    def compute_mask(self, inputs, mask=None):
        last, self._last_keep = self._last_keep, None
        if last is not None and last[0] is inputs:
            return last[1].squeeze(-1)
        if isinstance(inputs, KerasTensor):
            # Built with ops, as in Keras, so the symbolic mask is a node of
            # the graph (a functional model may return it).
            return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1)
        return (torch.as_tensor(inputs) != self.mask_value).any(dim=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, **kwargs):
        dtype = inputs.dtype
        if backend.is_float_dtype(dtype):
            dtype = self.compute_dtype
        return KerasTensor(tuple(inputs.shape), dtype=dtype)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
