"""Cropping3D: drop values at the borders of volumes."""

from lamina.layers.reshaping._base import (
    BaseCropping,
    standardize_data_format,
    standardize_pairs,
)


class Cropping3D(BaseCropping):
    """Crops the three spatial axes of volumes.

    Args:
        cropping: Int (the same everywhere), `(d1, d2, d3)` (symmetric per axis)
            or three `(before, after)` pairs. Defaults to
            `((1, 1), (1, 1), (1, 1))`.
        data_format: `"channels_last"` (`(batch, D1, D2, D3, C)`, the default
            from `image_data_format()`) or `"channels_first"`
            (`(batch, C, D1, D2, D3)`).

    Output: the input with each spatial axis shortened by its two croppings;
    a view, no copy.

    Example:
    >>> x = np.ones((1, 4, 5, 6, 2), "float32")
    >>> tuple(lamina.layers.Cropping3D(1)(x).shape)
    (1, 2, 3, 4, 2)
    """

    _rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = standardize_data_format(data_format, "Cropping3D")
        self._setup(
            standardize_pairs(cropping, 3, "cropping", "Cropping3D"), data_format
        )
