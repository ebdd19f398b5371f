"""UnitNormalization: scale each example to unit L2 norm over `axis`."""

import torch

from lamina.layers.layer import Layer
from lamina.layers.normalization.layer_normalization import (
    _check_axis_argument,
    _resolve_axes,
)


class UnitNormalization(Layer):
    """Divides each example by its L2 norm over `axis`, so that
    `sum(output ** 2, axis) == 1` (all-zero vectors stay zero).

    Args:
        axis: Int or list of ints, the axes whose norm becomes 1. Defaults to
            `-1`.

    Input: any shape. Output: the same shape.

    Example:
    >>> lamina.layers.UnitNormalization()(np.array([[3.0, 4.0]], "float32")).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axis_argument("UnitNormalization", axis)
        self.supports_masking = True
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    def call(self, inputs):
        x = inputs if inputs.is_floating_point() else inputs.float()
        # Keras: x * rsqrt(sum(x^2)) with the inverse norm capped at 1 / 1e-12.
        square_sum = torch.sum(x * x, dim=self.axis, keepdim=True)
        # 1e12 does not fit float16 (mixed_float16 policies): cap at its max.
        cap = 65504.0 if x.dtype == torch.float16 else 1e12
        # CUDA's autocast sums in float32: the result keeps the input's dtype.
        return (x * torch.clamp(torch.rsqrt(square_sum), max=cap)).to(x.dtype)

    def compute_output_shape(self, input_shape):
        _resolve_axes(self, input_shape, need_sizes=False)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
