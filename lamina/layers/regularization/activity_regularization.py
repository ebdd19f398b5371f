"""ActivityRegularization: add an L1/L2 penalty on the layer's inputs."""

from lamina import regularizers
from lamina.layers.layer import Layer


class ActivityRegularization(Layer):
    """Passes its inputs through unchanged and adds
    `(l1 * sum(|x|) + l2 * sum(x**2)) / batch_size` to the model's loss.

    Args:
        l1: L1 factor, non-negative. Defaults to `0.0`.
        l2: L2 factor, non-negative. Defaults to `0.0`.

    Example:
    >>> layer = lamina.layers.ActivityRegularization(l1=0.5)
    >>> _ = layer(np.array([[1.0, -3.0]], "float32"))
    >>> [float(loss) for loss in layer.losses]
    [2.0]
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        # A saved config never carries the regularizer itself (see get_config).
        kwargs.pop("activity_regularizer", None)
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1 = l1
        self.l2 = l2
        self.supports_masking = True
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
