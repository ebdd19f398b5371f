"""Permute: reorder the non-batch axes of each sample."""

from lamina.layers.input_spec import InputSpec
from lamina.layers.reshaping._base import ReshapingLayer


class Permute(ReshapingLayer):
    """Reorders the axes of each sample by `dims` (1-based; the batch axis stays).

    Args:
        dims: Tuple of ints, a permutation of `1..rank-1`; `(2, 1)` swaps the two
            axes of a `(batch, steps, features)` input.

    Output shape: the input shape with axes `1..` taken in the order of `dims`.
    The result is a view (`torch.permute`), as free as Keras's transpose.

    Example:
    >>> tuple(lamina.layers.Permute((2, 1))(np.ones((2, 3, 5), "float32")).shape)
    (2, 5, 3)
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise ValueError(
                "Permute expects `dims` to be a tuple of ints (a permutation of "
                f"1..rank-1, the batch axis excluded); got dims={dims!r}."
            ) from None
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                "Invalid permutation of `dims`: Permute expects it to be a permutation "
                "of 1..n (indexing starts at 1, the batch axis excluded); got "
                f"dims={dims!r}. To "
                "swap the two axes of (batch, steps, features) write Permute((2, 1))."
            )
        self.dims = dims
        self._perm = (0, *dims)
        self.input_spec = InputSpec(ndim=len(dims) + 1)

    def call(self, inputs):
        return inputs.permute(self._perm)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[d] for d in self._perm)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}
