"""Flatten: collapse every axis but the batch axis into one."""

import math

from lamina.backend import config
from lamina.layers.layer import Layer


class Flatten(Layer):
    """Reshapes `(batch, d1, d2, ...)` to `(batch, d1 * d2 * ...)`.

    Args:
        data_format: `"channels_last"` (default) or `"channels_first"`; with
            channels_first the channel axis is moved last before flattening, so
            the order matches a channels_last model, as in Keras.

    Example:
    >>> tuple(lamina.layers.Flatten()(np.ones((2, 3, 4), "float32")).shape)
    (2, 12)
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or config.image_data_format()
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                "Flatten expects data_format 'channels_last' or 'channels_first'; "
                f"got {data_format!r}."
            )
        self.built = True

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
