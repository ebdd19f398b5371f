"""ELU: the exponential linear unit as a layer."""

import torch.nn.functional as F

from lamina.layers.layer import Layer


class ELU(Layer):
    """Computes `x` for `x > 0` and `alpha * (exp(x) - 1)` otherwise.

    Args:
        alpha: Scale of the negative part. Defaults to `1.0`.

    Example:
    >>> lamina.layers.ELU()(np.array([0.0, 2.0], "float32")).tolist()
    [0.0, 2.0]
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha
        self.supports_masking = True
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    def call(self, inputs):
        return F.elu(inputs, alpha=self.alpha)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}
