"""ZeroPadding1D: add zeros at both ends of the steps axis."""

from lamina.layers.reshaping._base import (
    BaseZeroPadding,
    standardize_data_format,
    standardize_tuple,
)


class ZeroPadding1D(BaseZeroPadding):
    """Pads `(batch, steps, features)` inputs with zeros along the steps axis.

    Args:
        padding: Int (the same at both ends) or `(start, end)`. Defaults to `1`.
        data_format: `"channels_last"` (`(batch, steps, features)`, the default
            from `image_data_format()`) or `"channels_first"`
            (`(batch, features, steps)`).

    Output shape `(batch, steps + start + end, features)`.

    Example:
    >>> x = np.ones((1, 2, 1), "float32")
    >>> lamina.layers.ZeroPadding1D((1, 0))(x).tolist()
    [[[0.0], [1.0], [1.0]]]
    """

    _rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = standardize_data_format(data_format, "ZeroPadding1D")
        padding = standardize_tuple(
            padding, 2, "padding", "ZeroPadding1D", allow_zero=True
        )
        self._setup(padding, data_format)
