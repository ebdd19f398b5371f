"""Activation: applies an activation function as a layer."""

from lamina import activations
from lamina.layers.layer import Layer


class Activation(Layer):
    """Applies `activation` element-wise; the output has the input's shape.

    Args:
        activation: Name (`"relu"`) or callable.

    Example:
    >>> lamina.layers.Activation("relu")(np.array([-1.0, 2.0], "float32")).tolist()
    [0.0, 2.0]
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "activation": activations.serialize(self.activation),
        }
