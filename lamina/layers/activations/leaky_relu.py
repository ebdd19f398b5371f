"""LeakyReLU: a ReLU with a small slope for negative inputs."""

import warnings

import torch.nn.functional as F

from lamina.layers.activations.relu import _check_non_negative
from lamina.layers.layer import Layer


class LeakyReLU(Layer):
    """Computes `x` for `x >= 0` and `negative_slope * x` otherwise.

    Args:
        negative_slope: Slope for negative inputs, non-negative. Defaults to
            `0.3` (the layer's Keras default; the `leaky_relu` function's is
            `0.2`). The Keras 2 name `alpha` is accepted with a warning.

    Example:
    >>> lamina.layers.LeakyReLU(0.5)(np.array([-2.0, 3.0], "float32")).tolist()
    [-1.0, 3.0]
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn(
                "LeakyReLU's argument `alpha` is deprecated, as in Keras 3; use "
                "`negative_slope` instead.",
                stacklevel=2,
            )
        super().__init__(**kwargs)
        _check_non_negative("LeakyReLU", "negative_slope", negative_slope)
        self.negative_slope = negative_slope
        self.supports_masking = True
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    def call(self, inputs):
        return F.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}
