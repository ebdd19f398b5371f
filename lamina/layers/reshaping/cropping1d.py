"""Cropping1D: drop values at both ends of the steps axis."""

from lamina.layers.reshaping._base import BaseCropping, standardize_tuple


class Cropping1D(BaseCropping):
    """Crops `(batch, steps, features)` inputs along the steps axis.

    Args:
        cropping: Int (the same at both ends) or `(start, end)`: how many steps
            to drop at the start and at the end. Defaults to `(1, 1)`.

    Output shape `(batch, steps - start - end, features)`; a view, no copy.

    Example:
    >>> x = np.arange(6, dtype="float32").reshape(1, 3, 2)
    >>> lamina.layers.Cropping1D(1)(x).tolist()
    [[[2.0, 3.0]]]
    """

    _rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        cropping = standardize_tuple(
            cropping, 2, "cropping", "Cropping1D", allow_zero=True
        )
        self._setup(cropping, "channels_last")
