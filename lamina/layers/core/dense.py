"""Dense: a learned affine map over the last axis, then an activation."""

import torch
import torch.nn.functional as F

from lamina import activations, constraints, initializers, ops, regularizers
from lamina.activations.activations import _activate_fresh
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.core import _lora, _quantized
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer

# On the CPU, MKL's float32 matmul with a narrow right-hand matrix is up to
# 5x slower (forward) and 3x slower (forward and backward) when that matrix
# is stored as Keras keeps a kernel, (in, out) row by row, than when it is
# stored (out, in) as torch.nn.Linear keeps its weight: a 10-class head on
# 128 x 512 inputs takes 100 us instead of 48. For 2 to 11 units and inputs
# of at least this many elements, Dense multiplies by a transposed copy of
# its kernel (its gradient flows back through the copy); below that, the
# copy costs more than it saves (measured for 32-1024 rows, 32-1600 inputs).
_TRANSPOSED_KERNEL_MIN_ELEMENTS = 16384
_TRANSPOSED_KERNEL_UNITS = range(2, 12)


def _transposed_kernel_rows(in_dim, units):
    """The least batch size at which Dense multiplies by a transposed copy of
    its (in_dim, units) kernel, or None where it never does."""
    if units not in _TRANSPOSED_KERNEL_UNITS or not torch.backends.mkl.is_available():
        return None
    return max(1, -(-_TRANSPOSED_KERNEL_MIN_ELEMENTS // in_dim))


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
        lora_rank: If set, LoRA is enabled when the layer is built (see
            `enable_lora`). Defaults to `None`.
        lora_alpha: Scale of the LoRA update, which is multiplied by
            `lora_alpha / lora_rank`. Defaults to `None` (`lora_rank`).
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

    _transposed_kernel_rows = None  # set by build(): see _transposed_kernel_rows
    _keras_saved_variables = ("kernel", "bias")  # what Keras saves
    # Setting a quantized policy on the built layer quantizes it (Keras).

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
                "Dense expects `units` to be a positive integer (the output size); "
                f"got units={units!r}. For 64 outputs write Dense(64)."
            )
        self.lora_rank = _lora.check_rank(self, lora_rank)
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False
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
        if type(self).call is Dense.call:
            # Keras's call takes `training` (so `super().call(x, training=t)`
            # works) and ignores it; not passing it saves ~0.5 us per call.
            self._call_has_training_arg = False

    def build(self, input_shape):
        # Keras layout (in, out): saved files and get_weights() depend on it.
        in_dim = input_shape[-1]
        if isinstance(in_dim, (tuple, list, torch.Size)):  # a list of shapes
            raise ValueError(
                f"Layer '{self.name}' (Dense) expects 1 input(s), but it received "
                f"{len(input_shape)} input tensors (shapes "
                f"{[tuple(s) for s in input_shape]}). Merge them first (e.g. "
                "with a Concatenate layer), or make the previous layer return "
                "one tensor."
            )
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
        self._transposed_kernel_rows = _transposed_kernel_rows(in_dim, self.units)
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)

    @property
    def _kernel(self):
        # Keras keeps the stored kernel as `_kernel` (its `kernel` property adds
        # LoRA's update; lamina's `kernel` is the stored one already), and code
        # written for Keras (KerasHub) reads and assigns it.
        return self.kernel

    def call(self, inputs, training=None):
        kernel, bias = self.kernel, self.bias
        try:
            floating = inputs.is_floating_point()
        except AttributeError:
            # Not a tensor: call() itself was given it (layer(x) converts its
            # inputs first), and Keras's ops take it.
            if isinstance(inputs, KerasTensor):
                outputs = ops.matmul(inputs, kernel)
                if bias is not None:
                    outputs = ops.add(outputs, bias)
                return self.activation(outputs)
            # An array or a list: the output is the kernel's dtype, as in Keras.
            inputs = torch.as_tensor(inputs, dtype=kernel.dtype, device=kernel.device)
            floating = True
        if not floating:
            inputs = inputs.to(kernel.dtype)  # Keras: int inputs promote
        if bias is not None and inputs.dim() == 2:
            # What F.linear(inputs, kernel.t(), bias) runs for 2-D inputs,
            # without creating the transposed view first.
            rows = self._transposed_kernel_rows
            if (
                rows is not None
                and inputs.shape[0] >= rows
                and inputs.dtype == torch.float32
                and kernel.dtype == torch.float32
                and kernel.device.type == "cpu"
                and not torch.compiler.is_compiling()
            ):
                kernel = kernel.t().contiguous().t()  # see _transposed_kernel_rows
            outputs = torch.addmm(bias, inputs, kernel)
        else:
            # kernel.t() is a view; F.linear runs one matmul on it, no copy.
            outputs = F.linear(inputs, kernel.t(), bias)
        if self._linear_activation:
            return outputs
        return _activate_fresh(self.activation, outputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.units,)

    def enable_lora(
        self,
        rank: int,
        lora_alpha=None,
        a_initializer="he_uniform",
        b_initializer="zeros",
    ):
        """Fine-tune with LoRA: freeze `kernel` and train a low-rank update.

        Adds the float32 weights `lora_kernel_a` `(input_dim, rank)` and
        `lora_kernel_b` `(rank, units)`; the layer then computes with
        `kernel + (lora_alpha / rank) * lora_kernel_a @ lora_kernel_b`. Saving
        writes that merged kernel in the kernel's place (the file is a plain
        Dense layer's); loading assigns it and zeroes both LoRA weights. Unlike
        Keras, `layer.kernel` stays the frozen base variable.

        Args:
            rank: Rank of the update, a positive int.
            lora_alpha: Scale numerator. Defaults to `None` (`rank`).
            a_initializer: Initializer of `lora_kernel_a`. Defaults to
                `"he_uniform"`.
            b_initializer: Initializer of `lora_kernel_b`. Defaults to
                `"zeros"` (the outputs do not change at first).

        Raises:
            ValueError: if the layer has a `kernel_constraint`, is not built, or
                has LoRA enabled already.
            NotImplementedError: on a layer quantized to float8, GPTQ or AWQ.
        """
        _lora.enable(self, rank, lora_alpha, a_initializer, b_initializer)

    @property
    def variable_serialization_spec(self) -> dict:
        """Names of the variables each quantization mode saves, in file order
        (`None` is the float layer), as Keras lists them."""
        from lamina.layers.core import (
            _quantized_awq,
            _quantized_float8,
            _quantized_gptq,
            _quantized_int4,
        )

        saved = {
            None: self._keras_saved_variables,
            "int8": _quantized._DENSE_SAVE_ORDER,
            "int4": _quantized_int4._DENSE_SAVE_ORDER,
            "float8": _quantized_float8.SAVE_ORDER,
            "gptq": _quantized_gptq.SAVE_ORDER,
            "awq": _quantized_awq.SAVE_ORDER,
        }
        return {mode: list(names) for mode, names in saved.items()}

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize the kernel: int8 or int4 weights with scales, or float8
        training.

        Args:
            mode: `"int8"`, `"int4"`, `"float8"`, `"gptq"` or `"awq"` (the
                last two add variables only: `Model.quantize` calibrates
                them); may be left out when `config` is given.
            type_check: Refuse subclasses of Dense. Defaults to `True`.
            config: A `lamina.quantizers.QuantizationConfig` of the mode
                (`Int8QuantizationConfig`, `Int4QuantizationConfig` with its
                `block_size`, `Float8QuantizationConfig`). Defaults to `None`
                (Keras's defaults for the mode).

        Raises:
            ValueError: if the layer is not built or already quantized.
        """
        _quantized.quantize_dense(self, mode, type_check, config)

    def quantized_build(self, kernel_shape, mode, config=None):
        """Create the quantized variables of `mode` in place of the float
        kernel (what `build` does under a quantized dtype policy).

        Args:
            kernel_shape: `(input_dim, units)`.
            mode: `"int8"`, `"int4"`, `"float8"`, `"gptq"` or `"awq"`.
            config: A `QuantizationConfig` of the mode. Defaults to `None`
                (the details the layer's policy gives, else Keras's: int4 per
                output channel).

        Raises:
            NotImplementedError: for any other mode.
        """
        _quantized.quantized_build(
            self, _quantized.build_dense, (tuple(kernel_shape),), mode, config
        )

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
            **_lora.config(self),
        }
