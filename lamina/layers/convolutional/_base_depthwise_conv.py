"""BaseDepthwiseConv: per-channel convolution shared by DepthwiseConv1D/2D."""

import torch.nn.functional as F

from lamina import activations, constraints, initializers, regularizers
from lamina.layers.convolutional import _conv_utils as U
from lamina.layers.convolutional._base_conv import ConvLayerBase


class BaseDepthwiseConv(ConvLayerBase):
    """Convolves every input channel with its own `depth_multiplier` filters
    (output channel `c * depth_multiplier + m`), plus an optional bias, then an
    activation. Subclasses fix `rank`.

    Args:
        rank: Number of spatial axes (1 or 2).
        depth_multiplier: Output channels per input channel. Defaults to 1.
        kernel_size: Int or tuple of `rank` ints, the window size.
        strides, padding ("valid"/"same"), data_format, dilation_rate,
        activation, use_bias: As for `Conv2D`.
        depthwise_initializer, bias_initializer: Default to `"glorot_uniform"`
            and `"zeros"`.
        depthwise_regularizer, bias_regularizer, activity_regularizer: Penalties.
        depthwise_constraint, bias_constraint: Projections applied after updates.

    The kernel has Keras's layout `kernel_size + (in_channels,
    depth_multiplier)`; the bias has shape `(in_channels * depth_multiplier,)`.
    """

    def __init__(
        self,
        rank,
        depth_multiplier,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        who = type(self).__name__
        U.check_positive_int(
            depth_multiplier, "depth_multiplier", who, "depth_multiplier=2"
        )
        self.depth_multiplier = depth_multiplier
        self._init_window(
            rank,
            kernel_size,
            strides,
            dilation_rate,
            padding,
            data_format,
            activation,
            use_bias,
        )
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._conv_op = F.conv2d if rank <= 2 else F.conv3d
        self._torch_strides = U.lift(self.strides, rank, 1)
        self._torch_dilation = U.lift(self.dilation_rate, rank, 1)

    def build(self, input_shape):
        channels = U.input_channels(input_shape, self.rank, self.data_format, self._who)
        self._pin_input_channels(input_shape, channels)
        self.kernel = self.add_weight(
            name="kernel",
            shape=self.kernel_size + (channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self._add_bias((channels * self.depth_multiplier,))

    def call(self, inputs):
        U.check_rank(self, inputs)
        x = U.to_torch_layout(inputs, self.rank, self.data_format)
        pads = U.spatial_pads(
            x,
            self.rank,
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            self.padding,
        )
        x, padding = U.pad_for_torch(x, pads)
        outputs = self._conv_op(
            x,
            depthwise_torch_kernel(self.kernel, self.rank),
            self.bias,
            self._torch_strides,
            padding,
            self._torch_dilation,
            self.kernel.shape[-2],
        )
        outputs = U.from_torch_layout(outputs, self.rank, self.data_format)
        return self._activate(outputs)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        channels = input_shape[-1 if self.data_format == "channels_last" else 1]
        return U.conv_output_shape(
            input_shape,
            None if channels is None else channels * self.depth_multiplier,
            self.rank,
            self.kernel_size,
            self.strides,
            self.padding,
            self.data_format,
            self.dilation_rate,
            self._who,
        )

    def _explain_failure(self, error, args):
        super()._explain_failure(error, args)
        if args and hasattr(args[0], "shape"):
            self.compute_output_shape(tuple(args[0].shape))

    def get_config(self):
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


def depthwise_torch_kernel(kernel, rank):
    """Keras depthwise kernel `kernel_size + (C, M)` as torch's grouped weight
    `(C * M, 1, *kernel_size)` (output channel `c * M + m`), through views."""
    shape = tuple(kernel.shape)
    kernel = kernel.reshape(shape[:-2] + (1, shape[-2] * shape[-1]))
    return U.torch_kernel(kernel, rank)
