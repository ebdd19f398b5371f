"""BaseAdaptivePooling: pool every spatial axis down to a fixed output size."""

from lamina import ops
from lamina.layers.convolutional import _conv_utils as U
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer


class BaseAdaptivePooling(Layer):
    """Pools with windows chosen so that each spatial axis has exactly
    `output_size` positions, whatever the input size (torch's and Keras's
    adaptive pooling: window `i` of an axis of length `n` covers
    `[floor(i * n / out), ceil((i + 1) * n / out))`).

    Each 1D/2D/3D subclass sets `rank` (the number of spatial axes) and
    `_op_name` (`"adaptive_average_pool"` or `"adaptive_max_pool"`, the
    `lamina.ops` function it calls).

    Args:
        output_size: An int (the same on every spatial axis) or `rank` ints.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.
    """

    rank = None
    _op_name = None

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        who = type(self).__name__
        self.output_size = _standardize_output_size(output_size, self.rank, who)
        self.data_format = U.standardize_data_format(data_format, who)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.built = True

    def call(self, inputs):
        U.check_rank(self, inputs)
        pool = getattr(ops, self._op_name)
        outputs = pool(inputs, self.output_size, data_format=self.data_format)
        if outputs.dtype != inputs.dtype:
            # CPU autocast (mixed policies) runs 3D pooling in float32; Keras
            # returns the compute dtype.
            outputs = outputs.to(inputs.dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects inputs of "
                f"rank {self.rank + 2}; got shape {input_shape}."
            )
        if self.data_format == "channels_last":
            return (input_shape[0], *self.output_size, input_shape[-1])
        return (input_shape[0], input_shape[1], *self.output_size)

    def get_config(self):
        return {
            **super().get_config(),
            "output_size": self.output_size,
            "data_format": self.data_format,
        }


def _standardize_output_size(value, rank: int, who: str) -> tuple:
    """`output_size` as a tuple of `rank` positive ints."""
    if U.is_int(value):
        value = (value,) * rank
    elif isinstance(value, (list, tuple)):
        value = tuple(value)
        if len(value) != rank:
            raise ValueError(
                f"{who} expects `output_size` to be an int or a tuple of {rank} "
                f"int(s); got output_size={value!r} of length {len(value)}."
            )
    else:
        raise TypeError(
            f"{who} expects `output_size` to be an int or a tuple of {rank} "
            f"int(s); got output_size={value!r} of type {type(value).__name__}."
        )
    if not all(U.is_int(v) and v > 0 for v in value):
        raise ValueError(
            f"{who} expects every entry of `output_size` to be a positive int; "
            f"got output_size={value!r}."
        )
    return value
