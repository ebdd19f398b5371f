"""Softmax: the softmax activation as a layer, with mask support."""

import torch

from lamina import activations
from lamina.layers.layer import Layer


class Softmax(Layer):
    """Computes `exp(x) / sum(exp(x))` over `axis`. Where a mask is given
    (broadcastable to the inputs; True or > 0.5 keeps a position), masked
    positions get a large negative logit before the softmax (`-1e9`; `-3e4` in
    float16) and exactly 0 after it, as in Keras.

    Args:
        axis: Int or list of ints, the axes to normalize over. Defaults to `-1`.

    Example:
    >>> layer = lamina.layers.Softmax()
    >>> x = np.array([[1.0, 1.0, 5.0]], "float32")
    >>> layer(x, mask=np.array([[True, True, False]])).tolist()
    [[0.5, 0.5, 0.0]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = self._standardize_mask(inputs, mask)
            large_negative = -3e4 if inputs.dtype == torch.float16 else -1e9
            inputs = torch.where(mask, inputs, large_negative)
        axis = self.axis
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        outputs = activations.softmax(inputs, axis=axis)
        if mask is not None:
            # A fully masked row would otherwise come out uniform.
            outputs = torch.where(mask, outputs, 0.0)
        return outputs

    def _standardize_mask(self, inputs, mask):
        if not isinstance(mask, torch.Tensor):
            mask = torch.as_tensor(mask, device=inputs.device)
        shape, target = tuple(mask.shape), tuple(inputs.shape)
        if len(shape) > len(target) or any(
            m != 1 and m != i for m, i in zip(shape[::-1], target[::-1])
        ):
            problem = (
                "must not have more dimensions than the inputs"
                if len(shape) > len(target)
                else "is not broadcastable to the inputs"
            )
            raise ValueError(
                f"Layer '{self.name}' (Softmax): the mask {problem}. It needs a "
                "mask that broadcasts to its inputs (each mask axis 1 or equal to "
                f"the input's, aligned on the right); got mask shape {shape} for "
                f"inputs of shape {target}."
            )
        if mask.dtype != torch.bool:
            mask = mask > 0.5
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
