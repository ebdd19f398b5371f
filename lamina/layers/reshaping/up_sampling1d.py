"""UpSampling1D: repeat every step of a sequence."""

import numpy as np

from lamina.layers.input_spec import InputSpec
from lamina.layers.reshaping._base import ReshapingLayer, repeat_axes


class UpSampling1D(ReshapingLayer):
    """Repeats each step of `(batch, steps, features)` inputs `size` times.

    Args:
        size: Positive int, the repetition factor. Defaults to `2`.

    Output shape `(batch, steps * size, features)`.

    Example:
    >>> x = np.array([[[1.0], [2.0]]], "float32")
    >>> lamina.layers.UpSampling1D(2)(x).tolist()
    [[[1.0], [1.0], [2.0], [2.0]]]
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
            raise TypeError(
                "UpSampling1D expects `size` to be an int (the repetition factor; "
                f"Expected an integer value for `size`); got size={size!r} of type "
                f"{type(size).__name__}."
            )
        if size <= 0:
            raise ValueError(
                "UpSampling1D expects `size` > 0: it should be a positive integer; "
                f"got size={size!r}."
            )
        self.size = int(size)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        if inputs.ndim != 3:
            self._check_rank(inputs)
        return repeat_axes(inputs, [1], [self.size])

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] * self.size
        return (input_shape[0], steps, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "size": self.size}
