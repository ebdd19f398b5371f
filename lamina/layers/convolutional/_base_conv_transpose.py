"""BaseConvTranspose: transposed convolution shared by Conv1D/2D/3DTranspose."""

import torch.nn.functional as F

from lamina import activations, constraints, initializers, regularizers
from lamina.layers.convolutional import _conv_utils as U
from lamina.layers.convolutional._base_conv import ConvLayerBase

_CONV_TRANSPOSE_OPS = {
    1: F.conv_transpose2d,
    2: F.conv_transpose2d,
    3: F.conv_transpose3d,
}


class BaseConvTranspose(ConvLayerBase):
    """Transposed convolution (the gradient of a convolution with respect to its
    input; "deconvolution"), plus an optional bias, then an activation.

    Args:
        rank: Number of spatial axes (1, 2 or 3).
        filters: Number of output channels, a positive int.
        kernel_size: Int or tuple of `rank` ints, the window size.
        strides: Int or tuple of `rank` ints, the upsampling factor. Defaults
            to 1.
        padding: `"valid"`: output size `(n - 1) * stride + max(k, stride)`;
            `"same"`: output size `n * stride`. Defaults to `"valid"`.
        output_padding: Int or tuple of `rank` ints (each < its stride) that
            sets the output size instead: `(n - 1) * stride + k +
            output_padding` ("valid") or `(n - 1) * stride + k % 2 +
            output_padding` ("same"), with `k` the dilated kernel size.
            Defaults to `None`.
        data_format, dilation_rate, activation, use_bias, initializers,
        regularizers, constraints: As for `Conv2D`.

    The kernel has Keras's layout `kernel_size + (filters, in_channels)`; the
    bias has shape `(filters,)`. Values match Keras (its TF/JAX padding rule).
    """

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        who = type(self).__name__
        U.check_positive_int(filters, "filters", who, f"{who}(32, 3)")
        self.filters = filters
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
        U.check_strides_and_dilation(self.strides, self.dilation_rate, who)
        if output_padding is None:
            self.output_padding = None
        else:
            self.output_padding = U.standardize_tuple(
                output_padding, rank, "output_padding", who, allow_zero=True
            )
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(
                    f"{who} expects every `output_padding` to be smaller than its "
                    "stride (`output_padding` must be strictly less than "
                    f"`strides`); got output_padding={self.output_padding} and "
                    f"strides={self.strides}."
                )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._conv_op = _CONV_TRANSPOSE_OPS[rank]
        self._torch_plan = self._plan_torch_call()

    def _plan_torch_call(self):
        """Torch arguments giving Keras's output window, fixed at construction.

        torch keeps `full[p : L - p + output_padding]` of the full transposed
        convolution (length `L`); Keras keeps `full[left : L - right]`. One
        torch call does it when `left - right` is a valid torch output_padding
        (0 <= it < max(stride, dilation)); otherwise (e.g. "same" with an odd
        kernel and stride 2, where Keras cuts one more on the right) torch runs
        with `padding=left` and the extra right part is sliced off (a view).
        """
        padding, output_padding, crops = [], [], []
        for i in range(self.rank):
            left, right = U.transpose_crops(
                self.kernel_size[i],
                self.strides[i],
                self.padding,
                None if self.output_padding is None else self.output_padding[i],
                self.dilation_rate[i],
            )
            extra = left - right
            padding.append(left)
            if 0 <= extra < max(self.strides[i], self.dilation_rate[i]):
                output_padding.append(extra)
                crops.append(0)
            else:
                # Keras's rule never asks for more than torch gives here.
                assert right > left >= 0, (left, right)
                output_padding.append(0)
                crops.append(right - left)
        return {
            "stride": U.lift(self.strides, self.rank, 1),
            "padding": U.lift(tuple(padding), self.rank, 0),
            "output_padding": U.lift(tuple(output_padding), self.rank, 0),
            "dilation": U.lift(self.dilation_rate, self.rank, 1),
            "right_crops": U.lift(tuple(crops), self.rank, 0),
        }

    def build(self, input_shape):
        channels = U.input_channels(input_shape, self.rank, self.data_format, self._who)
        self._pin_input_channels(input_shape, channels)
        # Keras layout: kernel_size + (filters, in_channels).
        self.kernel = self.add_weight(
            name="kernel",
            shape=self.kernel_size + (self.filters, channels),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self._add_bias((self.filters,))

    def call(self, inputs):
        plan = self._torch_plan
        U.check_rank(self, inputs)
        x = U.to_torch_layout(inputs, self.rank, self.data_format)
        # torch's transposed weight is (in, out, *k): the same permutation of the
        # Keras (*k, out, in) kernel as a forward convolution's.
        outputs = self._conv_op(
            x,
            U.torch_kernel(self.kernel, self.rank),
            self.bias,
            plan["stride"],
            plan["padding"],
            plan["output_padding"],
            1,
            plan["dilation"],
        )
        if any(plan["right_crops"]):
            index = [slice(None), slice(None)]
            for crop, size in zip(plan["right_crops"], outputs.shape[2:]):
                index.append(slice(0, size - crop))
            outputs = outputs[tuple(index)]
        outputs = U.from_torch_layout(outputs, self.rank, self.data_format)
        return self._activate(outputs)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{self._who} expects inputs of rank {self.rank + 2}; got shape "
                f"{input_shape}."
            )
        channels_last = self.data_format == "channels_last"
        spatial = input_shape[1:-1] if channels_last else input_shape[2:]
        out = tuple(
            U.transpose_output_length(
                n,
                self.kernel_size[i],
                self.strides[i],
                self.padding,
                None if self.output_padding is None else self.output_padding[i],
                self.dilation_rate[i],
            )
            for i, n in enumerate(spatial)
        )
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                f"{self._who} would produce an empty output for inputs of shape "
                f"{input_shape} (output spatial shape {out})."
            )
        if channels_last:
            return (input_shape[0], *out, self.filters)
        return (input_shape[0], self.filters, *out)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }
