"""ZeroPadding2D: add rows and columns of zeros around images."""

from lamina.layers.reshaping._base import (
    BaseZeroPadding,
    standardize_data_format,
    standardize_pairs,
)


class ZeroPadding2D(BaseZeroPadding):
    """Pads the height and width axes of images with zeros.

    Args:
        padding: Int (the same everywhere), `(h, w)` (symmetric per axis) or
            `((top, bottom), (left, right))`. Defaults to `(1, 1)`.
        data_format: `"channels_last"` (`(batch, H, W, C)`, the default from
            `image_data_format()`) or `"channels_first"` (`(batch, C, H, W)`).

    Output: the input with `top + bottom` more rows and `left + right` more
    columns.

    Example:
    >>> x = np.ones((1, 2, 2, 3), "float32")
    >>> tuple(lamina.layers.ZeroPadding2D(((1, 0), (2, 1)))(x).shape)
    (1, 3, 5, 3)
    """

    _rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = standardize_data_format(data_format, "ZeroPadding2D")
        self._setup(
            standardize_pairs(padding, 2, "padding", "ZeroPadding2D"), data_format
        )
