"""int8 / int4 quantization of ReversibleEmbedding, in Keras 3's variables.

The lookup side is Embedding's quantization (`_quantized_int8` /
`_quantized_int4`). The reverse side uses the same table transposed when the
weights are tied; otherwise `reverse_embeddings` `(output_dim, input_dim)` is
quantized on its own: one scale per vocabulary column (int8, int4 per
channel), or an asymmetric scale and zero point per group of `block_size`
rows (int4 sub-channel, sharing the lookup's `g_idx`). Keras's save order
follows the lookup's variables with `reverse_embeddings`,
`reverse_embeddings_scale` and (sub-channel) `reverse_embeddings_zero`.

Reverse calls quantize the hidden vectors per row with the config's activation
quantizer (`AbsMaxQuantizer(axis=-1)` when no config is given, as Keras does)
and divide the logits by the scales.
"""

import math

import torch

from lamina.layers._layer_calls import _set_mask
from lamina.layers.core import _quantized as q
from lamina.quantizers import quantization_config as _configs
from lamina.quantizers import quantizers as _quantizers
from lamina.quantizers.quantizers import AbsMaxQuantizer, pack_int4

# The eager maths under the public ops (no symbolic-tensor dispatch, which
# costs about 1 us a call): these run on real tensors, some every call.
abs_max_quantize_grouped_with_zero_point = (
    _quantizers.abs_max_quantize_grouped_with_zero_point.__wrapped__
)
unpack_int4 = _quantizers.unpack_int4.__wrapped__

_INT4_RANGE = (-8, 7)
_REVERSE_ORDER = ("reverse_embeddings", "reverse_embeddings_scale")
_LOOKUP_ORDER = {
    "int8": ("embeddings", "embeddings_scale"),
    "int4": ("embeddings", "embeddings_scale", "embeddings_zero", "g_idx"),
}


def quantize(layer, mode, type_check, config):
    """`ReversibleEmbedding.quantize`: the lookup as Embedding, then the
    reverse matrix when the weights are untied."""
    from lamina.layers.core.reversible_embedding import ReversibleEmbedding

    if type_check and type(layer) is not ReversibleEmbedding:
        raise NotImplementedError(
            f"Layer {type(layer).__name__} does not have a `quantize` method "
            "implemented (it subclasses ReversibleEmbedding; pass "
            "type_check=False to quantize it as one)."
        )
    reverse = None
    if layer.built and not layer.tie_weights:
        reverse = layer.reverse_embeddings
    # Embedding's checks, its lookup quantization and the new dtype policy.
    q.quantize_embedding(layer, mode, False, config)
    mode = layer.quantization_config.mode
    values = scale = zero = None
    if reverse is not None:
        values, scale, zero = _quantize_reverse(layer, reverse.detach(), mode)
        q._drop_weight(layer, reverse)
    # Keras resolves the default config first (int4's quantizes no inputs).
    _build_reverse(layer, mode, layer.quantization_config)
    if reverse is not None:
        q._assign(layer.reverse_embeddings, values)
        q._assign(layer.reverse_embeddings_scale, scale)
        if zero is not None:
            q._assign(layer.reverse_embeddings_zero, zero)


def build(layer, config):
    """Quantized variables of the reverse side of a layer built under a
    quantized policy (Embedding's `build` made the lookup's already)."""
    _build_reverse(layer, layer.dtype_policy.quantization_mode, config)


def _quantize_reverse(layer, reverse, mode):
    """int values, scale (and zero point) of the untied `(output_dim,
    input_dim)` reverse matrix, reduced along `output_dim`."""
    if mode == "int8":
        quantizer = _configs.QuantizationConfig.weight_quantizer_or_default(
            layer.quantization_config, AbsMaxQuantizer(axis=0)
        )
        values, scale = quantizer(reverse, to_numpy=True)
        return torch.as_tensor(values), torch.as_tensor(scale).squeeze(0), None
    if layer._int4_block_size is None:
        quantizer = _configs.QuantizationConfig.weight_quantizer_or_default(
            layer.quantization_config,
            AbsMaxQuantizer(axis=0, value_range=_INT4_RANGE, output_dtype="int8"),
        )
        values, scale = quantizer(reverse, to_numpy=True)
        scale, zero = torch.as_tensor(scale).squeeze(0), None
    else:
        values, scale, zero = abs_max_quantize_grouped_with_zero_point(
            reverse, block_size=layer._int4_block_size, to_numpy=True
        )
    packed, _, _ = pack_int4(torch.as_tensor(values), axis=0)
    return packed, scale, zero


def _build_reverse(layer, mode, config):
    if mode not in _LOOKUP_ORDER:
        raise q.unsupported_mode_error(layer, mode, tuple(_LOOKUP_ORDER))
    layer.inputs_quantizer = (
        _configs.QuantizationConfig.activation_quantizer_or_default(
            config, AbsMaxQuantizer(axis=-1)
        )
    )
    order = _LOOKUP_ORDER[mode]
    if not layer.tie_weights:
        order = order + _REVERSE_ORDER
        input_dim, output_dim = layer.input_dim, layer.output_dim
        rows = output_dim if mode == "int8" else (output_dim + 1) // 2
        layer.reverse_embeddings = q._add_int8(
            layer, "reverse_embeddings", (rows, input_dim)
        )
        block_size = getattr(layer, "_int4_block_size", None)
        if mode == "int8" or block_size is None:
            shape = (input_dim,)
        else:
            shape = (math.ceil(output_dim / block_size), input_dim)
        layer.reverse_embeddings_scale = q._add_scale(
            layer, "reverse_embeddings_scale", shape
        )
        if mode == "int4" and block_size is not None:
            order = order + ("reverse_embeddings_zero",)
            # A float variable in Keras (unlike Embedding's int8 embeddings_zero).
            layer.reverse_embeddings_zero = layer.add_weight(
                name="reverse_embeddings_zero",
                shape=tuple(shape),
                initializer="zeros",
                trainable=False,
            )
    # Embedding's quantized lookup stays the forward call.
    layer._quantized_lookup = layer.call
    q._install(layer, _call, save_order=order)


def _reverse_kernel(self):
    """The reverse kernel `(output_dim, input_dim)`: its integers and
    per-column scale, or (sub-channel) the dequantized float kernel and `None`.

    The scales are read as Keras reads them (`_quantized._in_compute_dtype`):
    inside a model they stay in the variable dtype (float32 under a mixed
    policy), and so does a dequantized kernel."""
    dtype = self._compute_torch_dtype
    mode = self.dtype_policy.quantization_mode
    block_size = getattr(self, "_int4_block_size", None)
    if self.tie_weights:
        table = self.embeddings
        if mode == "int4":
            table = unpack_int4(table, self.output_dim, axis=-1)
        kernel, scale = table.t(), q._in_compute_dtype(self, self.embeddings_scale)
        if block_size is None:
            return kernel, scale
        zero, scale = self.embeddings_zero.t(), scale.t()
    else:
        kernel = self.reverse_embeddings
        if mode == "int4":
            kernel = unpack_int4(kernel, self.output_dim, axis=0)
        scale = q._in_compute_dtype(self, self.reverse_embeddings_scale)
        if block_size is None:
            return kernel, scale
        zero = self.reverse_embeddings_zero
    groups = self.g_idx.to(torch.long)
    zero = zero.index_select(0, groups).to(scale.dtype)
    return (kernel.to(dtype) - zero) * scale.index_select(0, groups), None


def _matmul(inputs, kernel):
    """`inputs @ kernel` in their own dtype, outside a mixed model's autocast
    region (Keras computes the logits in the dtype its matmul promotes to)."""
    device_type = inputs.device.type
    if torch.is_autocast_enabled(device_type):
        with torch.autocast(device_type, enabled=False):
            return torch.matmul(inputs, kernel)
    return torch.matmul(inputs, kernel)


def _call(self, inputs, reverse=False):
    if not reverse:
        outputs = self._quantized_lookup(inputs)
        if self.mask_zero:
            _set_mask(outputs, inputs != 0)
        return outputs
    dtype = self._compute_torch_dtype
    if not inputs.is_floating_point():
        inputs = inputs.to(dtype)
    inputs_scale = None
    if self.inputs_quantizer is not None:
        inputs, inputs_scale = self.inputs_quantizer(inputs)
    kernel, scale = _reverse_kernel(self)
    if scale is None:
        # Sub-channel: the float kernel, in the dtype Keras's matmul promotes to.
        common = torch.promote_types(inputs.dtype, kernel.dtype)
        logits = _matmul(inputs.to(common), kernel.to(common))
        if inputs_scale is not None:
            logits = logits / inputs_scale
    else:
        # Per channel: integer product in the compute dtype, then one division
        # by `inputs_scale * scale`, as Keras.
        common = dtype
        if inputs.is_floating_point():
            common = torch.promote_types(inputs.dtype, dtype)
        logits = _matmul(inputs.to(common), kernel.to(common)).to(dtype)
        divisor = scale if inputs_scale is None else inputs_scale * scale
        logits = logits / divisor
    if self.logit_soft_cap is not None:
        cap = self.logit_soft_cap
        logits = torch.tanh(logits / cap) * cap
    return logits
