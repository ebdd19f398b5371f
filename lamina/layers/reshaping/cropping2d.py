"""Cropping2D: drop rows and columns at the borders of images."""

from lamina.layers.reshaping._base import (
    BaseCropping,
    standardize_data_format,
    standardize_pairs,
)


class Cropping2D(BaseCropping):
    """Crops the height and width axes of images.

    Args:
        cropping: Int (the same everywhere), `(h, w)` (symmetric per axis) or
            `((top, bottom), (left, right))`. Defaults to `((0, 0), (0, 0))`.
        data_format: `"channels_last"` (`(batch, H, W, C)`, the default from
            `image_data_format()`) or `"channels_first"` (`(batch, C, H, W)`).

    Output: the input with `top + bottom` rows and `left + right` columns
    removed; a view, no copy.

    Example:
    >>> x = np.ones((2, 28, 28, 3), "float32")
    >>> tuple(lamina.layers.Cropping2D(((2, 2), (4, 4)))(x).shape)
    (2, 24, 20, 3)
    """

    _rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = standardize_data_format(data_format, "Cropping2D")
        self._setup(
            standardize_pairs(cropping, 2, "cropping", "Cropping2D"), data_format
        )
