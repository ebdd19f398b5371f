"""EinsumDense: a dense layer whose product is written as an einsum equation."""

import math
import re

import torch
import torch.nn.functional as F

from lamina import activations, constraints, initializers, regularizers
from lamina.initializers.random_initializers import VarianceScaling
from lamina.layers.core import _lora, _quantized
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer


class EinsumDense(Layer):
    """A dense layer computing `einsum(equation, inputs, kernel) + bias`.

    The equation names the axes of the inputs, of the kernel and of the output,
    e.g. `"abc,cd->abd"` (a Dense over the last axis of a rank-3 input) or
    `"abc,cde->abde"` (a projection to heads, as MultiHeadAttention uses). A
    leading `...` stands for any number of leading axes (`"...b,bc->...c"`), a
    trailing one (`"ab...,bc->ac..."`) for trailing axes.

    Args:
        equation: The einsum equation `"<input>,<kernel>-><output>"`.
        output_shape: Sizes of the output axes after the batch axis; an int for
            a single axis. `None` marks a size taken from the inputs.
        activation: Name or callable applied last. Defaults to `None` (linear).
        bias_axes: Letters of the output axes that get a bias, e.g. `"d"`.
            Defaults to `None` (no bias).
        kernel_initializer: Defaults to `"glorot_uniform"`; for variance
            scaling initializers the fans are counted over the kernel's input
            and output axes, as in Keras.
        bias_initializer: Defaults to `"zeros"`.
        kernel_regularizer, bias_regularizer: Penalties added to the loss.
        kernel_constraint, bias_constraint: Projections applied after updates.
        lora_rank: If set, LoRA is enabled when the layer is built (see
            `enable_lora`). Defaults to `None`.
        lora_alpha: Scale of the LoRA update, which is multiplied by
            `lora_alpha / lora_rank`. Defaults to `None` (`lora_rank`).
        quantization_config: The `lamina.quantizers.QuantizationConfig` of a
            quantized layer (set by `quantize()`). Defaults to `None`.

    The kernel's shape follows the equation: each kernel letter takes its size
    from the output (if it appears there) or the inputs.

    Example:
    >>> layer = lamina.layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 4))
    >>> tuple(layer(np.ones((3, 5, 8), "float32")).shape)
    (3, 5, 2, 4)
    """

    _keras_saved_variables = ("kernel", "bias")  # what Keras saves
    # Setting a quantized policy on the built layer quantizes it (Keras).

    def __init__(
        self,
        equation: str,
        output_shape,
        activation=None,
        bias_axes: str | None = None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        lora_alpha=None,
        gptq_unpacked_column_size=None,
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.lora_rank = _lora.check_rank(self, lora_rank)
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False
        self.quantization_config = _quantized.config_from_arg(quantization_config)
        # Keras: the unpacked column count of a GPTQ kernel, kept in the config.
        self.gptq_unpacked_column_size = gptq_unpacked_column_size
        _parse_equation(equation)  # raises a ValueError for a malformed equation
        self.equation = equation
        if isinstance(output_shape, int):
            self.partial_output_shape = (output_shape,)
        else:
            self.partial_output_shape = tuple(output_shape)
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self._linear_activation = self.activation is activations.linear
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        if type(self).call is EinsumDense.call:
            # As Dense: `training` accepted by call(), ignored, not passed.
            self._call_has_training_arg = False

    def build(self, input_shape):
        info = _analyze_einsum(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape
        )
        if any(d is None for d in info.kernel_shape):
            raise ValueError(
                f"Layer '{self.name}' (EinsumDense) cannot size its kernel "
                f"{info.kernel_shape} from input shape {tuple(input_shape)} and "
                f"output_shape={self.partial_output_shape}: every kernel axis "
                "needs a known size. Give the sizes in output_shape or in the "
                "inputs' shape."
            )
        self.input_spec = InputSpec(ndim=len(input_shape))
        kernel_initializer = self.kernel_initializer
        if isinstance(kernel_initializer, VarianceScaling) and (
            kernel_initializer.input_axes is None
            or kernel_initializer.output_axes is None
        ):
            # Keras: fans are the products of the kernel's input/output axes,
            # and the clone keeps the concrete seed of the original.
            config = kernel_initializer.get_config()
            config["seed"] = kernel_initializer.seed
            config["input_axes"] = info.input_axes
            config["output_axes"] = info.output_axes
            kernel_initializer = type(kernel_initializer).from_config(config)
        mode = self.dtype_policy.quantization_mode
        if mode is not None:
            # A quantized model loading: quantized variables straight away.
            _quantized.build_einsum_dense(
                self, tuple(info.kernel_shape), self.quantization_config
            )
        if mode in (None, "float8"):  # float8 trains a float kernel
            self._kernel = self.add_weight(
                name="kernel",
                shape=tuple(info.kernel_shape),
                initializer=kernel_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )
        if info.bias_shape is not None:
            self.bias = self.add_weight(
                name="bias",
                shape=tuple(info.bias_shape),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self._matmul = _matmul_plan(self.equation, self.bias_axes)
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)

    @property
    def kernel(self):
        """The kernel; with LoRA enabled, the merged float kernel the layer
        computes with (as in Keras)."""
        if self.lora_enabled and self.dtype_policy.quantization_mode is None:
            return _lora.merged(self)
        return self._kernel

    def call(self, inputs, training=None):
        plan = self._matmul
        if plan is not None:
            # The equation is a matrix product in disguise: flatten the contracted
            # trailing axes and run one GEMM (faster than torch.einsum's permutes).
            n_bound, full_bias = plan
            kernel = self._kernel
            n_out = kernel.ndim - n_bound
            out_dims = kernel.shape[n_bound:]
            lead = inputs.shape[: inputs.ndim - n_bound]
            flat_in = inputs.reshape(*lead, -1)
            flat_kernel = kernel.reshape(-1, math.prod(out_dims) if n_out else 1)
            if full_bias and self.bias is not None:
                x = F.linear(flat_in, flat_kernel.t(), self.bias.reshape(-1))
                x = x.reshape(*lead, *out_dims)
            else:
                x = torch.matmul(flat_in, flat_kernel).reshape(*lead, *out_dims)
                if self.bias is not None:
                    x = x + self.bias
        else:
            x = torch.einsum(self.equation, inputs, self._kernel)
            if self.bias is not None:
                x = x + self.bias
        if self._linear_activation:
            return x
        return self.activation(x)

    def enable_lora(
        self,
        rank: int,
        lora_alpha=None,
        a_initializer="he_uniform",
        b_initializer="zeros",
    ):
        """Fine-tune with LoRA: freeze the kernel and train a low-rank update.

        Adds the float32 weights `lora_kernel_a` (the kernel's shape with the
        last axis replaced by `rank`) and `lora_kernel_b` `(rank, last axis)`;
        the layer then computes with `kernel + (lora_alpha / rank) *
        lora_kernel_a @ lora_kernel_b`. Saving writes that merged kernel in the
        kernel's place; loading assigns it and zeroes both LoRA weights.

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

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize the kernel as Keras does: `"int8"` (an int8 kernel and a
        float `kernel_scale` laid out along the output's axes), `"int4"` (the
        kernel flattened to `(contracted, other)` and packed two values per
        byte) or `"float8"` (float8 training of the float kernel).

        Args:
            mode: `"int8"`, `"int4"`, `"float8"`, `"gptq"` or `"awq"` (the
                last two add variables only: `Model.quantize` calibrates
                them); may be left out when `config` is given.
            type_check: Refuse subclasses of EinsumDense. Defaults to `True`.
            config: A `lamina.quantizers.QuantizationConfig` of the mode.
                Defaults to `None` (Keras's defaults for the mode).

        Raises:
            ValueError: if the layer is not built or already quantized.
        """
        _quantized.quantize_einsum_dense(self, mode, type_check, config)

    def compute_output_shape(self, input_shape):
        info = _analyze_einsum(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape
        )
        return tuple(info.output_shape)

    def quantized_build(self, kernel_shape, mode, config=None):
        """Create the quantized variables of `mode` in place of the float
        kernel (what `build` does under a quantized dtype policy).

        Args:
            kernel_shape: The kernel's shape (as `build` works it out from
                the equation).
            mode: `"int8"`, `"int4"`, `"float8"`, `"gptq"` or `"awq"`.
            config: A `QuantizationConfig` of the mode. Defaults to `None`
                (the details the layer's policy gives, else Keras's: int4 per
                output channel).

        Raises:
            NotImplementedError: for any other mode.
        """
        _quantized.quantized_build(
            self, _quantized.build_einsum_dense, (tuple(kernel_shape),), mode, config
        )

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "quantization_config": _quantized.serialize_config(
                self.quantization_config
            ),
            **_lora.config(self),
            **(
                {"gptq_unpacked_column_size": self.gptq_unpacked_column_size}
                if self.gptq_unpacked_column_size
                else {}
            ),
        }


# --- equation analysis -----------------------------------------------------------

_FORMS = (
    # (pattern over the equation with "..." replaced by "0", ellipsis side)
    (re.compile(r"^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$"), None),
    (re.compile(r"^0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)$"), "left"),
    (re.compile(r"^([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0$"), "right"),
)


def _parse_equation(equation):
    """`(input_spec, kernel_spec, output_spec, ellipsis_side)` of an equation."""
    if isinstance(equation, str):
        compact = equation.replace(" ", "").replace("...", "0")
        for pattern, side in _FORMS:
            match = pattern.match(compact)
            if match:
                return match.group(1), match.group(2), match.group(3), side
    raise ValueError(
        f"EinsumDense got an invalid equation {equation!r}. Write it as "
        "'<input>,<kernel>-><output>' with letters, optionally with a leading "
        "'...' on the input and output ('...b,bc->...c') or a trailing one "
        "('ab...,bc->ac...'). Example: EinsumDense('abc,cd->abd', output_shape=(None, 8))."
    )


class _EinsumInfo:
    def __init__(self, kernel_shape, bias_shape, output_shape, input_axes, output_axes):
        self.kernel_shape = kernel_shape
        self.bias_shape = bias_shape
        self.output_shape = output_shape
        self.input_axes = input_axes
        self.output_axes = output_axes


def _analyze_einsum(equation, bias_axes, input_shape, partial_output_shape):
    """Kernel, bias and full output shapes for `equation` on `input_shape`."""
    in_spec, kernel_spec, out_spec, side = _parse_equation(equation)
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(in_spec)
    if elided < 0 or (side is None and elided != 0):
        raise ValueError(
            f"EinsumDense equation {equation!r} names {len(in_spec)} input axes, "
            f"but the inputs have shape {input_shape} (rank {len(input_shape)}). "
            "Use an equation with one letter per input axis, or a '...'."
        )
    # 1. The full output shape: batch axis, then the given sizes; the sizes of
    # elided axes come from the inputs.
    output_shape = [input_shape[0]] + list(partial_output_shape)
    if side == "left":
        output_shape[1:1] = list(input_shape[1:elided])
        in_pos = {c: elided + i for i, c in enumerate(in_spec)}
        out_pos = {c: elided + i for i, c in enumerate(out_spec)}
    else:
        if side == "right":
            output_shape += list(input_shape[len(in_spec) :])
        in_pos = {c: i for i, c in enumerate(in_spec)}
        out_pos = {c: i for i, c in enumerate(out_spec)}
    if len(output_shape) != len(out_spec) + (elided if side else 0):
        expected = len(out_spec) if side == "left" else len(out_spec) - 1
        raise ValueError(
            f"EinsumDense equation {equation!r} needs output_shape to give "
            f"{expected} sizes (the output axes after the batch axis, None for "
            f"unknown); got output_shape={tuple(partial_output_shape)}."
        )
    # 2. Axes shared by inputs and output must agree; unknown output sizes are
    # taken from the inputs.
    for c in in_spec:
        if c in out_pos:
            size_in = input_shape[in_pos[c]]
            size_out = output_shape[out_pos[c]]
            if size_out is not None and size_in is not None and size_out != size_in:
                raise ValueError(
                    f"EinsumDense: input and output sizes differ on shared axis "
                    f"'{c}' of {equation!r}: the inputs have {size_in}, "
                    f"output_shape has {size_out}."
                )
            if size_out is None:
                output_shape[out_pos[c]] = size_in
    for c in out_spec:
        if c not in in_spec and c not in kernel_spec:
            raise ValueError(
                f"EinsumDense: output axis '{c}' of {equation!r} appears in "
                "neither the input nor the kernel."
            )
    # 3. The kernel: output sizes first, else input sizes.
    kernel_shape, input_axes, output_axes = [], [], []
    for i, c in enumerate(kernel_spec):
        if c in out_pos:
            kernel_shape.append(output_shape[out_pos[c]])
            output_axes.append(i)
        elif c in in_pos:
            kernel_shape.append(input_shape[in_pos[c]])
            input_axes.append(i)
        else:
            raise ValueError(
                f"EinsumDense: kernel axis '{c}' of {equation!r} appears in "
                "neither the input nor the output, so its size is unknown."
            )
    # 4. The bias spans the output axes from the first biased one to the end;
    # the unbiased ones among them get size 1 (Keras's layout).
    bias_shape = None
    if bias_axes is not None:
        for c in bias_axes:
            if c not in out_spec:
                raise ValueError(
                    f"EinsumDense: bias axis '{c}' is not an output axis of "
                    f"{equation!r} (output axes: '{out_spec}')."
                )
        first = min(out_spec.index(c) for c in bias_axes)
        bias_shape = [
            output_shape[out_pos[c]] if c in bias_axes else 1 for c in out_spec[first:]
        ]
        if side == "right":
            bias_shape += [1] * elided
    return _EinsumInfo(kernel_shape, bias_shape, output_shape, input_axes, output_axes)


def _matmul_plan(equation, bias_axes):
    """`(n_contracted_axes, bias_covers_all_output_axes)` when the equation is a
    matrix product `free+bound, bound+out -> free+out`, else None."""
    in_spec, kernel_spec, out_spec, side = _parse_equation(equation)
    if side == "right":
        return None
    if len(set(in_spec)) != len(in_spec) or len(set(kernel_spec)) != len(kernel_spec):
        return None
    for n_bound in range(1, len(in_spec) + 1):
        free, bound = (
            in_spec[: len(in_spec) - n_bound],
            in_spec[len(in_spec) - n_bound :],
        )
        if not kernel_spec.startswith(bound):
            continue
        out = kernel_spec[n_bound:]
        if out_spec != free + out or set(free) & set(kernel_spec):
            continue
        if set(out) & set(in_spec):
            continue
        return n_bound, bias_axes is not None and bias_axes == out
    return None
