"""int4 weight quantization for Dense, EinsumDense and Embedding, as Keras 3 does it.

The int4 values live two to a byte in an int8 variable, packed along its last
axis (Keras's layout, so files move both ways). Two schemes, chosen by the
block size of `Int4QuantizationConfig` (or of the `Int4DTypePolicy` a loaded
layer carries):

- per channel (`block_size=None` or `-1`): symmetric, one float scale per
  output column (per row for Embedding), `float = int4 / scale`;
- sub-channel (`block_size > 0`, Keras's default 128): asymmetric, a scale and
  an int8 zero point per group of `block_size` contracted rows, with the float
  `g_idx` naming each row's group, `float = (int4 - zero) * scale`.

The packed kernel is frozen; gradients reach the inputs through the
dequantized kernel and the bias keeps training, as in Keras.
"""

import functools
import math

import torch

from lamina.layers.core import _quantized as q
from lamina.layers.core._quantized_einsum import einsum_info, scale_to_output
from lamina.quantizers import quantization_config as _configs
from lamina.quantizers import quantizers as _quantizers
from lamina.quantizers.quantizers import AbsMaxQuantizer, pack_int4

# The eager maths under the public ops (no symbolic-tensor dispatch, which
# costs about 1 us a call): these run on real tensors, some every call.
abs_max_quantize = _quantizers.abs_max_quantize.__wrapped__
abs_max_quantize_grouped_with_zero_point = (
    _quantizers.abs_max_quantize_grouped_with_zero_point.__wrapped__
)
unpack_int4 = _quantizers.unpack_int4.__wrapped__

_DENSE_SAVE_ORDER = ("kernel", "bias", "kernel_scale", "kernel_zero", "g_idx")
_EMBEDDING_SAVE_ORDER = ("embeddings", "embeddings_scale", "embeddings_zero", "g_idx")
_INT4_RANGE = (-8, 7)


def block_size_for(layer, config):
    """The group size: the config's if it is an int4 config, else the
    layer's `Int4DTypePolicy`'s; `None` means one scale per channel."""
    from lamina.dtype_policies.quantized_dtype_policy import Int4DTypePolicy

    if isinstance(config, _configs.Int4QuantizationConfig):
        block_size = config.block_size
    elif isinstance(q.own_policy(layer), Int4DTypePolicy):
        block_size = q.own_policy(layer).block_size
    else:
        block_size = None
    return None if block_size == -1 else block_size


def policy_mode(layer, config) -> str:
    """The mode part of the layer's new policy name, e.g. `"int4/128"`."""
    block_size = block_size_for(layer, config)
    return f"int4/{-1 if block_size is None else block_size}"


def _pack(values):
    packed, _, _ = pack_int4(values, axis=-1)
    return packed


def _add_groups(layer, name, length, block_size):
    """Keras's `g_idx`: the group of each of `length` rows, as float32."""
    g_idx = layer.add_weight(
        name=name,
        shape=(length,),
        initializer="zeros",
        dtype="float32",
        trainable=False,
    )
    q._assign(g_idx, torch.div(torch.arange(length), block_size, rounding_mode="floor"))
    return g_idx


def _add_zero(layer, name, shape):
    return q._add_int8(layer, name, shape)


def _grouped_kernel(unpacked, scale, zero, g_idx, dtype):
    """`(unpacked - zero[g]) * scale[g]` with groups along the first axis."""
    groups = g_idx.to(torch.long)
    zeros = zero.index_select(0, groups).to(scale.dtype)
    return ((unpacked - zeros) * scale.index_select(0, groups)).to(dtype)


def _product_call(layer, inputs, kernel, scale, product, inputs_grad):
    """Run `product` with the inputs' gradient taken through the dequantized
    kernel (needed where the inputs are quantized: rounding has no gradient)."""
    return q._QuantizedProduct.apply(
        inputs,
        kernel,
        scale,
        functools.partial(product, layer),
        functools.partial(inputs_grad, layer),
    )


# --- Dense --------------------------------------------------------------------


def quantize_dense(layer, config):
    block_size = block_size_for(layer, config)
    kernel = layer.kernel
    if block_size is None:
        quantizer = config.weight_quantizer or AbsMaxQuantizer(
            axis=0, value_range=_INT4_RANGE, output_dtype="int8"
        )
        values, scale = quantizer(kernel.detach(), to_numpy=True)
        scale, zero = scale.squeeze(0), None
    else:
        values, scale, zero = abs_max_quantize_grouped_with_zero_point(
            kernel.detach(), block_size=block_size, to_numpy=True
        )
    q._drop_weight(layer, kernel)
    build_dense(layer, tuple(kernel.shape), config)
    q._assign(layer.kernel, _pack(values))
    q._assign(layer.kernel_scale, scale)
    if zero is not None:
        q._assign(layer.kernel_zero, zero)


def build_dense(layer, kernel_shape, config):
    """Create Dense's packed int4 kernel and its scale (zero point and groups
    too for sub-channel quantization)."""
    input_dim, units = kernel_shape
    block_size = block_size_for(layer, config)
    layer.inputs_quantizer = (
        _configs.QuantizationConfig.activation_quantizer_or_default(config, None)
    )
    layer._int4_block_size = block_size
    layer._orig_input_dim, layer._orig_output_dim = input_dim, units
    layer.kernel = q._add_int8(layer, "kernel", (input_dim, (units + 1) // 2))
    if block_size is None:
        layer.kernel_scale = q._add_scale(layer, "kernel_scale", (units,))
        call = _dense_per_channel_call
    else:
        shape = (math.ceil(input_dim / block_size), units)
        layer.kernel_scale = q._add_scale(layer, "kernel_scale", shape)
        layer.kernel_zero = _add_zero(layer, "kernel_zero", shape)
        layer.g_idx = _add_groups(layer, "g_idx", input_dim, block_size)
        call = _dense_sub_channel_call
    q._install(layer, call, save_order=_DENSE_SAVE_ORDER)


def _dense_per_channel_call(self, inputs):
    if not inputs.is_floating_point():
        inputs = inputs.to(self._compute_torch_dtype)
    if self.inputs_quantizer is None:
        # Weight only: autograd of this product is Keras's custom gradient.
        kernel = unpack_int4(self.kernel, self._orig_output_dim, axis=-1)
        x = torch.matmul(inputs, kernel.to(inputs.dtype))
        x = x / q._in_compute_dtype(self, self.kernel_scale)
    else:
        x = _product_call(
            self,
            inputs,
            self.kernel,
            q._in_compute_dtype(self, self.kernel_scale),
            _dense_quantized_inputs_product,
            _dense_inputs_grad,
        )
    return q._finish(self, x.to(self._compute_torch_dtype), inputs)


def _dense_quantized_inputs_product(self, inputs, packed, kernel_scale):
    kernel = unpack_int4(packed, self._orig_output_dim, axis=-1)
    q_inputs, inputs_scale = self.inputs_quantizer(inputs, axis=-1)
    lead = q_inputs.shape[:-1]
    x = q._int8_matmul(q_inputs.reshape(-1, q_inputs.shape[-1]), kernel)
    x = x.reshape(*lead, kernel.shape[-1]).to(self._compute_torch_dtype)
    return x / (kernel_scale * inputs_scale)


def _dense_inputs_grad(self, upstream, packed, kernel_scale):
    kernel = unpack_int4(packed, self._orig_output_dim, axis=-1)
    return torch.matmul(upstream, (kernel.to(upstream.dtype) / kernel_scale).t())


def _dense_sub_channel_call(self, inputs):
    if not inputs.is_floating_point():
        inputs = inputs.to(self._compute_torch_dtype)
    kernel = unpack_int4(self.kernel, self._orig_output_dim, axis=-1)
    scale = q._in_compute_dtype(self, self.kernel_scale)
    kernel = _grouped_kernel(kernel, scale, self.kernel_zero, self.g_idx, inputs.dtype)
    return q._finish(self, torch.matmul(inputs, kernel), inputs)


# --- EinsumDense ----------------------------------------------------------------


def _flat_shape(kernel_shape, info):
    """Keras flattens the kernel to `(rows, columns)`: rows are the sizes of
    the contracted axes, columns the others (a plain reshape)."""
    reduced = set(info["kernel_reduced"])
    rows = math.prod(d for i, d in enumerate(kernel_shape) if i in reduced)
    columns = math.prod(d for i, d in enumerate(kernel_shape) if i not in reduced)
    return rows, columns


def quantize_einsum_dense(layer, config):
    info = einsum_info(layer)
    block_size = block_size_for(layer, config)
    kernel = layer._kernel
    kernel_shape = tuple(kernel.shape)
    flat = kernel.detach().reshape(_flat_shape(kernel_shape, info))
    if block_size is None:
        # Keras: per channel ignores the config's weight quantizer here.
        values, scale = abs_max_quantize(
            flat, axis=0, value_range=_INT4_RANGE, dtype="int8", to_numpy=True
        )
        scale, zero = scale.squeeze(0), None
    else:
        values, scale, zero = abs_max_quantize_grouped_with_zero_point(
            flat, block_size=block_size, to_numpy=True
        )
    q._drop_weight(layer, kernel)
    build_einsum_dense(layer, kernel_shape, config)
    q._assign(layer._kernel, _pack(values))
    q._assign(layer.kernel_scale, scale)
    if zero is not None:
        q._assign(layer.kernel_zero, zero)


def build_einsum_dense(layer, kernel_shape, config):
    """Create EinsumDense's packed `(rows, ceil(columns / 2))` int4 kernel and
    its scale (zero point and groups too for sub-channel quantization)."""
    info = einsum_info(layer)
    rows, columns = _flat_shape(kernel_shape, info)
    block_size = block_size_for(layer, config)
    layer.inputs_quantizer = (
        _configs.QuantizationConfig.activation_quantizer_or_default(config, None)
    )
    layer.quantization_axis = tuple(info["input_reduced"])
    layer.original_kernel_shape = tuple(kernel_shape)
    layer._int4_block_size = block_size
    layer._int4_unpacked_column_size = columns
    layer._int4_rows = rows
    layer._kernel = q._add_int8(layer, "kernel", (rows, (columns + 1) // 2))
    if block_size is None:
        layer.kernel_scale = q._add_scale(layer, "kernel_scale", (columns,))
        call = _einsum_per_channel_call
    else:
        shape = (math.ceil(rows / block_size), columns)
        layer.kernel_scale = q._add_scale(layer, "kernel_scale", shape)
        layer.kernel_zero = _add_zero(layer, "kernel_zero", shape)
        layer.g_idx = _add_groups(layer, "g_idx", rows, block_size)
        call = _einsum_sub_channel_call
    q._install(layer, call, save_order=_DENSE_SAVE_ORDER)


def _einsum_float_kernel(self, packed, kernel_scale, dtype):
    kernel = unpack_int4(packed, self._int4_unpacked_column_size, axis=-1)
    return (kernel.to(dtype) / kernel_scale).reshape(self.original_kernel_shape)


def _einsum_per_channel_call(self, inputs):
    if self.inputs_quantizer is None:
        kernel = _einsum_float_kernel(
            self,
            self._kernel,
            q._in_compute_dtype(self, self.kernel_scale),
            self._compute_torch_dtype,
        )
        x = torch.einsum(self.equation, inputs, kernel)
    else:
        x = _product_call(
            self,
            inputs,
            self._kernel,
            q._in_compute_dtype(self, self.kernel_scale),
            _einsum_quantized_inputs_product,
            _einsum_inputs_grad,
        )
    return q._finish(self, x, inputs)


def _einsum_quantized_inputs_product(self, inputs, packed, kernel_scale):
    compute = self._compute_torch_dtype
    kernel = _einsum_float_kernel(self, packed, kernel_scale, compute)
    q_inputs, inputs_scale = self.inputs_quantizer(inputs, axis=self.quantization_axis)
    inputs_scale = scale_to_output(inputs_scale, einsum_info(self), "input")
    x = torch.einsum(self.equation, q_inputs.to(compute), kernel)
    return x / inputs_scale


def _einsum_inputs_grad(self, upstream, packed, kernel_scale):
    kernel = _einsum_float_kernel(self, packed, kernel_scale, upstream.dtype)
    return torch.einsum(einsum_info(self)["grad_equation"], upstream, kernel)


def _einsum_sub_channel_call(self, inputs):
    kernel = unpack_int4(self._kernel, self._int4_unpacked_column_size, axis=-1)
    scale = q._in_compute_dtype(self, self.kernel_scale)
    kernel = _grouped_kernel(kernel, scale, self.kernel_zero, self.g_idx, inputs.dtype)
    x = torch.einsum(self.equation, inputs, kernel.reshape(self.original_kernel_shape))
    return q._finish(self, x, inputs)


# --- Embedding ------------------------------------------------------------------


def quantize_embedding(layer, config):
    block_size = block_size_for(layer, config)
    embeddings = layer.embeddings.detach()
    if block_size is None:
        quantizer = config.weight_quantizer or AbsMaxQuantizer(
            axis=-1, value_range=_INT4_RANGE, output_dtype="int8"
        )
        values, scale = quantizer(embeddings, to_numpy=True)
        scale, zero = scale.squeeze(-1), None
    else:
        # Keras: groups run along output_dim, so quantize the transpose.
        values, scale, zero = abs_max_quantize_grouped_with_zero_point(
            embeddings.t(), block_size=block_size, to_numpy=True
        )
        values, scale, zero = values.t(), scale.t(), zero.t()
    q._drop_weight(layer, layer.embeddings)
    build_embedding(layer, config)
    q._assign(layer.embeddings, _pack(values.contiguous()))
    q._assign(layer.embeddings_scale, scale)
    if zero is not None:
        q._assign(layer.embeddings_zero, zero)


def build_embedding(layer, config):
    """Create Embedding's packed `(input_dim, ceil(output_dim / 2))` int4 table
    and its per-row scale (per row and group for sub-channel quantization)."""
    input_dim, output_dim = layer.input_dim, layer.output_dim
    block_size = block_size_for(layer, config)
    layer._int4_block_size = block_size
    layer._orig_output_dim = output_dim
    layer.embeddings = q._add_int8(
        layer, "embeddings", (input_dim, (output_dim + 1) // 2)
    )
    if block_size is None:
        layer.embeddings_scale = q._add_scale(layer, "embeddings_scale", (input_dim,))
    else:
        shape = (input_dim, math.ceil(output_dim / block_size))
        layer.embeddings_scale = q._add_scale(layer, "embeddings_scale", shape)
        layer.embeddings_zero = _add_zero(layer, "embeddings_zero", shape)
        layer.g_idx = _add_groups(layer, "g_idx", output_dim, block_size)
    q._install(layer, _embedding_call, save_order=_EMBEDDING_SAVE_ORDER)


def _embedding_call(self, inputs):
    if inputs.dtype not in (torch.int32, torch.int64):
        inputs = inputs.to(torch.int32)
    table = unpack_int4(self.embeddings, self._orig_output_dim, axis=-1)
    try:
        rows = table[inputs]
    except IndexError as error:
        self._raise_out_of_range(inputs, error)
    rows = rows.to(self._compute_torch_dtype)
    scale = q._in_compute_dtype(self, self.embeddings_scale)[inputs]
    if self._int4_block_size is None:
        outputs = rows / scale.unsqueeze(-1)
    else:
        groups = self.g_idx.to(torch.long)
        zero = self.embeddings_zero[inputs].index_select(-1, groups).to(scale.dtype)
        outputs = (rows - zero) * scale.index_select(-1, groups)
    if self.lora_enabled:
        outputs = (outputs + self._lora_delta(inputs)).to(self._compute_torch_dtype)
    return outputs


# --- LoRA saving ------------------------------------------------------------------


def lora_merged(layer, kind, delta):
    """`{id(variable): value}`: the int4 variables holding the dequantized
    weight plus the LoRA `delta`, quantized again with the layer's scheme
    (what Keras saves for an int4 layer with LoRA)."""
    block_size = layer._int4_block_size
    dtype = torch.float32
    if kind == "embedding":
        base = layer.embeddings
        scale_var, zero_var = (
            layer.embeddings_scale,
            getattr(layer, "embeddings_zero", None),
        )
        table = unpack_int4(base, layer._orig_output_dim, axis=-1).to(dtype)
        if block_size is None:
            weight = table / scale_var.unsqueeze(-1)
        else:
            groups = layer.g_idx.to(torch.long)
            zero = zero_var.index_select(-1, groups).to(dtype)
            weight = (table - zero) * scale_var.index_select(-1, groups)
        weight = weight + delta
        if block_size is None:
            values, scale = abs_max_quantize(
                weight, axis=-1, value_range=_INT4_RANGE, dtype="int8", to_numpy=True
            )
            scale, zero = torch.as_tensor(scale).squeeze(-1), None
        else:
            values, scale, zero = abs_max_quantize_grouped_with_zero_point(
                weight.t(), block_size=block_size, to_numpy=True
            )
            values, scale, zero = values.t(), scale.t(), zero.t()
    else:
        base = layer._kernel if kind == "einsum" else layer.kernel
        scale_var, zero_var = layer.kernel_scale, getattr(layer, "kernel_zero", None)
        columns = (
            layer._int4_unpacked_column_size
            if kind == "einsum"
            else layer._orig_output_dim
        )
        unpacked = unpack_int4(base, columns, axis=-1).to(dtype)
        if block_size is None:
            weight = unpacked / scale_var
        else:
            weight = _grouped_kernel(unpacked, scale_var, zero_var, layer.g_idx, dtype)
        weight = weight + delta.reshape(weight.shape)
        if block_size is None:
            values, scale = abs_max_quantize(
                weight, axis=0, value_range=_INT4_RANGE, dtype="int8", to_numpy=True
            )
            scale, zero = torch.as_tensor(scale).squeeze(0), None
        else:
            values, scale, zero = abs_max_quantize_grouped_with_zero_point(
                weight, block_size=block_size, to_numpy=True
            )
    result = {
        id(base): _pack(torch.as_tensor(values).contiguous()),
        id(scale_var): scale,
    }
    if zero is not None:
        result[id(zero_var)] = zero
    return result
