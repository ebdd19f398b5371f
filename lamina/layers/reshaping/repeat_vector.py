"""RepeatVector: repeat each sample's feature vector n times along a new axis."""

import numpy as np

from lamina.layers.input_spec import InputSpec
from lamina.layers.reshaping._base import ReshapingLayer


class RepeatVector(ReshapingLayer):
    """Turns `(batch, features)` into `(batch, n, features)` by repetition.

    Args:
        n: Positive int, the number of repetitions.

    The result is a broadcast view of the input (`expand`, no copy); torch ops
    that need contiguous memory (an RNN, say) copy it when they read it, as
    Keras's repeat would have done up front.

    Example:
    >>> lamina.layers.RepeatVector(2)(np.array([[1.0, 2.0]], "float32")).tolist()
    [[[1.0, 2.0], [1.0, 2.0]]]
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(
                "RepeatVector expects `n` to be an int (the number of repeats; "
                f"Expected an integer value for `n`); got n={n!r} of type "
                f"{type(n).__name__}."
            )
        if n <= 0:
            raise ValueError(
                f"RepeatVector expects `n` > 0: it should be a positive integer; "
                f"got n={n!r}."
            )
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        if inputs.ndim != 2:
            self._check_rank(inputs)
        return inputs.unsqueeze(1).expand(-1, self.n, -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
