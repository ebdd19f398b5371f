"""BaseConv: the N-D convolution shared by Conv1D, Conv2D and Conv3D."""

import torch.nn.functional as F

from lamina import activations, constraints, initializers, regularizers
from lamina.activations.activations import _activate_fresh
from lamina.layers.convolutional import _conv_lora
from lamina.layers.convolutional import _conv_utils as U
from lamina.layers.core import _lora
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer

_CONV_OPS = {1: F.conv2d, 2: F.conv2d, 3: F.conv3d}


class ConvLayerBase(Layer):
    """What every convolution layer shares: its window arguments (validated
    once, here), its activation, its optional bias, and error context."""

    # Keras: a quantized policy set on a built convolution asks it to quantize,
    # which convolutions cannot (NotImplementedError).

    def _init_window(
        self,
        rank,
        kernel_size,
        strides,
        dilation_rate,
        padding,
        data_format,
        activation,
        use_bias,
        allow_causal=False,
    ):
        """Validate and store `kernel_size`, `strides`, `dilation_rate`,
        `padding`, `data_format`, `activation` and `use_bias` for a `rank`-D
        convolution; inputs must have rank `rank + 2`."""
        who = type(self).__name__
        self.rank = rank
        self.kernel_size = U.standardize_tuple(kernel_size, rank, "kernel_size", who)
        self.strides = U.standardize_tuple(strides, rank, "strides", who)
        self.dilation_rate = U.standardize_tuple(
            dilation_rate, rank, "dilation_rate", who
        )
        self.padding = U.standardize_padding(padding, who, allow_causal=allow_causal)
        self.data_format = U.standardize_data_format(data_format, who)
        self.activation = activations.get(activation)
        self._linear_activation = self.activation is activations.linear
        self.use_bias = use_bias
        self.input_spec = InputSpec(ndim=rank + 2)

    @property
    def _who(self):
        return f"Layer '{self.name}' ({type(self).__name__})"

    def _pin_input_channels(self, input_shape, channels):
        """Expect `channels` input channels from now on, and reject inputs for
        which the output would be empty (a kernel larger than the input)."""
        axis = -1 if self.data_format == "channels_last" else 1
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={axis: channels})
        self.compute_output_shape(input_shape)

    def _add_bias(self, shape):
        """The `bias` weight (created last, as in Keras), or `None` without
        `use_bias`; then the layer is built."""
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=shape,
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.built = True

    def _activate(self, outputs):
        """`activation(outputs)` of a fresh convolution output (in place where
        no gradient is recorded), skipped for the linear activation."""
        if self._linear_activation:
            return outputs
        return _activate_fresh(self.activation, outputs)


class BaseConv(ConvLayerBase):
    """Convolution (cross-correlation) of the inputs with a learned kernel, plus
    an optional bias, then an activation. Subclasses fix `rank`.

    Args:
        rank: Number of spatial axes (1, 2 or 3).
        filters: Number of output channels, a positive int.
        kernel_size: Int or tuple of `rank` ints, the window size.
        strides: Int or tuple of `rank` ints. Defaults to 1.
        padding: `"valid"` (none), `"same"` (output size `ceil(input / stride)`,
            the extra pixel of an odd total padding on the right/bottom, as in
            Keras/TF) or, for rank 1 only, `"causal"` (left padding of
            `dilation_rate * (kernel_size - 1)`). Defaults to `"valid"`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `lamina.backend.image_data_format()` (`"channels_last"`).
        dilation_rate: Int or tuple of `rank` ints. Defaults to 1.
        groups: Number of channel groups convolved separately; divides both the
            input channels and `filters`. Defaults to 1.
        activation: Name or callable applied last. Defaults to `None` (linear).
        use_bias: Defaults to `True`.
        kernel_initializer, bias_initializer: Default to `"glorot_uniform"` and
            `"zeros"`.
        kernel_regularizer, bias_regularizer, activity_regularizer: Penalties.
        kernel_constraint, bias_constraint: Projections applied after updates.
        lora_rank: If set, `build` enables LoRA with this rank (see
            `enable_lora`). Defaults to `None`.
        lora_alpha: LoRA scale numerator. Defaults to `None` (`lora_rank`).

    The kernel has Keras's layout `kernel_size + (in_channels // groups,
    filters)`; the bias has shape `(filters,)`.
    """

    _keras_saved_variables = ("kernel", "bias")  # what Keras saves

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        lora_alpha=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        who = type(self).__name__
        self.lora_rank = _lora.check_rank(self, lora_rank)
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False
        U.check_positive_int(filters, "filters", who, f"{who}(32, 3)")
        if U.is_int(groups) and groups < 1:
            raise ValueError(
                f"{who}: The number of groups must be a positive integer. "
                f"Received: groups={groups}."
            )
        U.check_positive_int(groups, "groups", who, "groups=2")
        if filters % groups:
            raise ValueError(
                f"{who}: The number of filters must be evenly divisible by the "
                f"number of groups. Received: groups={groups}, filters={filters}."
            )
        self.filters = filters
        self.groups = groups
        self._init_window(
            rank,
            kernel_size,
            strides,
            dilation_rate,
            padding,
            data_format,
            activation,
            use_bias,
            allow_causal=rank == 1,
        )
        # Keras checks this for Conv1D/2D/3D only (depthwise, separable and
        # transposed convolutions accept strided dilated windows).
        U.check_strides_and_dilation(
            self.strides, self.dilation_rate, type(self).__name__
        )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._conv_op = _CONV_OPS[rank]
        self._torch_strides = U.lift(self.strides, rank, 1)
        self._torch_dilation = U.lift(self.dilation_rate, rank, 1)

    def build(self, input_shape):
        channels = U.input_channels(input_shape, self.rank, self.data_format, self._who)
        if channels % self.groups:
            raise ValueError(
                f"{self._who} expects the number of input channels to be divisible "
                f"by groups={self.groups}; got inputs of shape {tuple(input_shape)} "
                f"({channels} channels)."
            )
        self._pin_input_channels(input_shape, channels)
        # Keras layout: kernel_size + (in // groups, filters).
        self.kernel = self.add_weight(
            name="kernel",
            shape=self.kernel_size + (channels // self.groups, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self._add_bias((self.filters,))
        if self.lora_rank:
            self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)

    def enable_lora(
        self,
        rank: int,
        lora_alpha=None,
        a_initializer="he_uniform",
        b_initializer="zeros",
    ):
        """Fine-tune with LoRA: freeze `kernel` and train a low-rank update.

        Adds the float32 weights `lora_kernel_a` `(*kernel_size, in_channels //
        groups, rank)` and `lora_kernel_b` `(rank, filters)`; the layer then
        convolves with `kernel + (lora_alpha / rank) * lora_kernel_a @
        lora_kernel_b`. Saving writes that merged kernel in the kernel's place;
        loading assigns it and zeroes both LoRA weights. Unlike Keras,
        `layer.kernel` stays the frozen base variable.

        Args:
            rank: Rank of the update, a positive int.
            lora_alpha: Scale numerator. Defaults to `None` (`rank`).
            a_initializer: Initializer of `lora_kernel_a`. Defaults to
                `"he_uniform"`.
            b_initializer: Initializer of `lora_kernel_b`. Defaults to
                `"zeros"` (the outputs do not change at first).

        Raises:
            ValueError: if the layer has a `kernel_constraint`, is not built,
                or has LoRA enabled already.
        """
        _conv_lora.enable(self, rank, lora_alpha, a_initializer, b_initializer)

    def call(self, inputs):
        if type(self).convolution_op is not BaseConv.convolution_op:
            return self._call_custom_op(inputs, self.kernel)
        return self._activate(self._convolve(inputs, self.kernel, self.bias))

    def _call_custom_op(self, inputs, kernel):
        # Keras: a subclass customises the convolution alone by overriding
        # convolution_op; the bias and activation still follow it here.
        outputs = self.convolution_op(inputs, kernel)
        if self.bias is not None:
            axis = -1 if self.data_format == "channels_last" else 1
            shape = [1] * outputs.ndim
            shape[axis] = self.filters
            outputs = outputs + self.bias.reshape(shape)
        return self._activate(outputs)

    def convolution_op(self, inputs, kernel):
        """The convolution of `inputs` with `kernel` (Keras layout), with this
        layer's strides, padding, dilation, groups and data format, and no
        bias or activation.

        Override it in a subclass to change the convolution (e.g. standardize
        the kernel first); `call` adds the bias and activation to its result.
        A subclass's own `call` may also use it on a transformed kernel.

        Args:
            inputs: Input tensor in the layer's `data_format`.
            kernel: Tensor of shape `kernel_size + (in_channels // groups,
                filters)`.

        Returns:
            The convolution, in the layer's `data_format`.
        """
        return self._convolve(inputs, kernel, None)

    def _convolve(self, inputs, kernel, bias):
        # Permuted views only: channels_last data reaches torch with channels_last
        # strides (NHWC kernels, no copy); the kernel view costs one small reorder.
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
            U.torch_kernel(kernel, self.rank),
            bias,
            self._torch_strides,
            padding,
            self._torch_dilation,
            self.groups,
        )
        return U.from_torch_layout(outputs, self.rank, self.data_format)

    def compute_output_shape(self, input_shape):
        return U.conv_output_shape(
            input_shape,
            self.filters,
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
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            **_lora.config(self),
        }
