"""BaseGlobalPooling: max / mean over every spatial axis."""

from lamina.layers.convolutional import _conv_utils as U
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer


class BaseGlobalPooling(Layer):
    """Reduces all spatial axes with `_reduce` (`torch.amax` or `torch.mean`).

    Each 1D/2D/3D subclass sets `rank` (the number of spatial axes) and
    `_reduce`.

    Args:
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.
        keepdims: Keep the spatial axes with size 1. Defaults to `False`.
    """

    rank = None
    _reduce = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        who = type(self).__name__
        self.data_format = U.standardize_data_format(data_format, who)
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=self.rank + 2)
        first = 1 if self.data_format == "channels_last" else 2
        self._spatial_axes = tuple(range(first, first + self.rank))
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    def call(self, inputs):
        return self._reduce(inputs, dim=self._axes(inputs), keepdim=self.keepdims)

    def _axes(self, inputs):
        """The spatial axes of `inputs`, after checking its rank."""
        U.check_rank(self, inputs)
        return self._spatial_axes

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects inputs of "
                f"rank {self.rank + 2}; got shape {input_shape}."
            )
        if self.data_format == "channels_last":
            channels, spatial = input_shape[-1:], (1,) * self.rank
            if self.keepdims:
                return (input_shape[0], *spatial, *channels)
            return (input_shape[0], *channels)
        if self.keepdims:
            return (input_shape[0], input_shape[1]) + (1,) * self.rank
        return (input_shape[0], input_shape[1])

    def get_config(self):
        return {
            **super().get_config(),
            "data_format": self.data_format,
            "keepdims": self.keepdims,
        }
