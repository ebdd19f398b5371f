"""UpSampling3D: enlarge volumes by integer factors."""

from lamina.layers.input_spec import InputSpec
from lamina.layers.reshaping._base import (
    ReshapingLayer,
    spatial_axes,
    standardize_data_format,
    standardize_tuple,
    upsample_nearest,
)


class UpSampling3D(ReshapingLayer):
    """Repeats each voxel `size[i]` times along spatial axis `i` (nearest).

    Args:
        size: Int or three positive ints. Defaults to `(2, 2, 2)`.
        data_format: `"channels_last"` (`(batch, D1, D2, D3, C)`, the default
            from `image_data_format()`) or `"channels_first"`
            (`(batch, C, D1, D2, D3)`).

    Output shape: each spatial axis multiplied by its factor.

    Example:
    >>> x = np.ones((1, 1, 2, 3, 4), "float32")
    >>> tuple(lamina.layers.UpSampling3D(2)(x).shape)
    (1, 2, 4, 6, 4)
    """

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, "UpSampling3D")
        self.size = standardize_tuple(size, 3, "size", "UpSampling3D")
        self._axes = spatial_axes(self.data_format, 5)
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        if inputs.ndim != 5:
            self._check_rank(inputs)
        return upsample_nearest(inputs, self.data_format, self.size)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, factor in zip(self._axes, self.size):
            if shape[axis] is not None:
                shape[axis] *= factor
        return tuple(shape)

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "data_format": self.data_format,
        }
