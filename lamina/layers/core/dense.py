"""Dense: a learned affine map over the last axis, then an activation."""

import torch
import torch.nn.functional as F

from lamina import activations, constraints, initializers, regularizers
from lamina.activations.activations import _activate_fresh
from lamina.layers.core import _quantized
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer


class Dense(Layer):
    """Fully connected layer: `activation(inputs @ kernel + bias)`.

    Args:
        units: Size of the output's last axis, a positive int.
        activation: Name or callable applied last. Defaults to `None` (linear).
        use_bias: Whether to add a bias. Defaults to `True`.
        kernel_initializer: Defaults to `"glorot_uniform"`.
        bias_initializer: Defaults to `"zeros"`.
        kernel_regularizer, bias_regularizer: Penalties added to the loss.
        kernel_constraint, bias_constraint: Projections applied after updates.
        quantization_config: The `lamina.quantizers.QuantizationConfig` of a
            quantized layer (set by `quantize()`). Defaults to `None`.

    Input shape `(batch, ..., input_dim)`; output shape `(batch, ..., units)`.
    The kernel has Keras's layout `(input_dim, units)`. After `quantize("int8")`
    it is an int8 `kernel` with a float `kernel_scale` per output; after
    `quantize("int4")` an int8 `kernel` of shape `(input_dim, ceil(units / 2))`
    holding two int4 values per byte; `quantize("float8")` keeps the float
    kernel and adds float8 scaling variables.

    Example:
    >>> tuple(lamina.layers.Dense(4)(np.ones((2, 3), "float32")).shape)
    (2, 4)
    """

    def __init__(
        self,
        units: int,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        lora_alpha=None,
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(
                "Dense expects `units` to be a positive int (the output size); "
                f"got units={units!r}. For 64 outputs write Dense(64)."
            )
        if lora_rank is not None:
            raise NotImplementedError(
                "Dense(lora_rank=...) is not supported by lamina yet; leave it as None."
            )
        self.quantization_config = _quantized.config_from_arg(quantization_config)
        self.units = units
        self.activation = activations.get(activation)
        self._linear_activation = self.activation is activations.linear
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        # Keras layout (in, out): saved files and get_weights() depend on it.
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(
                f"Layer '{self.name}' (Dense) needs the size of the inputs' last axis "
                f"to create its kernel; got input shape {tuple(input_shape)}."
            )
        mode = self.dtype_policy.quantization_mode
        if mode is not None:
            # A quantized model loading: quantized variables straight away.
            _quantized.build_dense(self, (in_dim, self.units), self.quantization_config)
        if mode in (None, "float8"):  # float8 trains a float kernel
            self.kernel = self.add_weight(
                name="kernel",
                shape=(in_dim, self.units),
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_dim})
        self.built = True

    def call(self, inputs):
        kernel, bias = self.kernel, self.bias
        if not inputs.is_floating_point():
            inputs = inputs.to(kernel.dtype)  # Keras: int inputs promote
        if bias is not None and inputs.dim() == 2:
            # What F.linear(inputs, kernel.t(), bias) runs for 2-D inputs,
            # without creating the transposed view first.
            outputs = torch.addmm(bias, inputs, kernel)
        else:
            # kernel.t() is a view; F.linear runs one matmul on it, no copy.
            outputs = F.linear(inputs, kernel.t(), bias)
        if self._linear_activation:
            return outputs
        return _activate_fresh(self.activation, outputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.units,)

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize the kernel: int8 or int4 weights with scales, or float8
        training.

        Args:
            mode: `"int8"`, `"int4"` or `"float8"`; may be left out when
                `config` is given.
            type_check: Refuse subclasses of Dense. Defaults to `True`.
            config: A `lamina.quantizers.QuantizationConfig` of the mode
                (`Int8QuantizationConfig`, `Int4QuantizationConfig` with its
                `block_size`, `Float8QuantizationConfig`). Defaults to `None`
                (Keras's defaults for the mode).

        Raises:
            ValueError: if the layer is not built or already quantized.
            NotImplementedError: for the GPTQ and AWQ modes.
        """
        _quantized.quantize_dense(self, mode, type_check, config)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "quantization_config": _quantized.serialize_config(
                self.quantization_config
            ),
        }
