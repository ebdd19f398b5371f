"""ZeroPadding3D: add zeros around volumes."""

from lamina.layers.reshaping._base import (
    BaseZeroPadding,
    standardize_data_format,
    standardize_pairs,
)


class ZeroPadding3D(BaseZeroPadding):
    """Pads the three spatial axes of volumes with zeros.

    Args:
        padding: Int (the same everywhere), `(d1, d2, d3)` (symmetric per axis)
            or three `(before, after)` pairs. Defaults to
            `((1, 1), (1, 1), (1, 1))`.
        data_format: `"channels_last"` (`(batch, D1, D2, D3, C)`, the default
            from `image_data_format()`) or `"channels_first"`
            (`(batch, C, D1, D2, D3)`).

    Output: the input with each spatial axis lengthened by its two paddings.

    Example:
    >>> x = np.ones((1, 2, 2, 2, 1), "float32")
    >>> tuple(lamina.layers.ZeroPadding3D(1)(x).shape)
    (1, 4, 4, 4, 1)
    """

    _rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = standardize_data_format(data_format, "ZeroPadding3D")
        self._setup(
            standardize_pairs(padding, 3, "padding", "ZeroPadding3D"), data_format
        )
