"""int8 weight quantization for Dense, EinsumDense and Embedding, as Keras 3 does it.

`quantize("int8")` replaces the float kernel with an int8 `kernel` and a float
`kernel_scale` (Embedding: `embeddings` and one `embeddings_scale` per row), in
Keras's names and variable order. Inputs are quantized per row by the config's
activation quantizer (`AbsMaxQuantizer` by default), multiplied by the int8
kernel in integers and divided by `inputs_scale * kernel_scale`; gradients reach
the inputs through the dequantized kernel (`_quantized._QuantizedProduct`).
"""

import torch

from lamina.layers.core import _quantized as q
from lamina.layers.core._quantized_einsum import (
    einsum_info,
    scale_to_kernel,
    scale_to_output,
)
from lamina.quantizers.quantizers import AbsMaxQuantizer

# Keras's save order of an int8 Embedding's variables.
_EMBEDDING_SAVE_ORDER = ("embeddings", "embeddings_scale")

# --- Dense --------------------------------------------------------------------


def quantize_dense(layer, config):
    quantizer = config.weight_quantizer or AbsMaxQuantizer(axis=0)
    kernel = layer.kernel
    values, scale = quantizer(kernel.detach(), to_numpy=True)
    q._drop_weight(layer, kernel)
    build_dense(layer, tuple(kernel.shape), config)
    q._assign(layer.kernel, values)
    q._assign(layer.kernel_scale, scale.squeeze(0))


def build_dense(layer, kernel_shape, config):
    """Create Dense's int8 variables and install the int8 call."""
    layer.inputs_quantizer = q._inputs_quantizer(config)
    layer.kernel = q._add_int8(layer, "kernel", kernel_shape)
    layer.kernel_scale = q._add_scale(layer, "kernel_scale", (layer.units,))
    q._install(
        layer,
        _dense_call,
        _dense_product,
        _dense_inputs_grad,
        q._DENSE_SAVE_ORDER,
    )


def _dense_call(self, inputs):
    if not inputs.is_floating_point():
        inputs = inputs.to(self._compute_torch_dtype)
    x = q._QuantizedProduct.apply(
        inputs,
        self.kernel,
        q._in_compute_dtype(self, self.kernel_scale),
        self._int8_product,
        self._int8_inputs_grad,
    )
    return q._finish(self, x, inputs)


def _dense_product(self, inputs, kernel, kernel_scale):
    compute = self._compute_torch_dtype
    if self.inputs_quantizer is None:
        x = torch.matmul(inputs, kernel.to(inputs.dtype))
        return x.to(compute) / kernel_scale
    q_inputs, inputs_scale = self.inputs_quantizer(inputs, axis=-1)
    lead = q_inputs.shape[:-1]
    x = q._int8_matmul(q_inputs.reshape(-1, q_inputs.shape[-1]), kernel)
    x = x.reshape(*lead, kernel.shape[-1]).to(compute)
    return x / (kernel_scale * inputs_scale)


def _dense_inputs_grad(self, upstream, kernel, kernel_scale):
    float_kernel = kernel.to(upstream.dtype) / kernel_scale
    return torch.matmul(upstream, float_kernel.t())


# --- EinsumDense ----------------------------------------------------------------


def quantize_einsum_dense(layer, config):
    info = einsum_info(layer)
    quantizer = config.weight_quantizer or AbsMaxQuantizer(axis=info["kernel_reduced"])
    kernel = layer._kernel
    values, scale = quantizer(kernel.detach(), to_numpy=True)
    scale = scale_to_output(scale, info, "kernel")
    q._drop_weight(layer, kernel)
    build_einsum_dense(layer, tuple(kernel.shape), config)
    q._assign(layer._kernel, values)
    q._assign(layer.kernel_scale, scale)


def build_einsum_dense(layer, kernel_shape, config):
    """Create EinsumDense's int8 variables and install the int8 call."""
    info = einsum_info(layer)
    layer.inputs_quantizer = q._inputs_quantizer(config)
    layer.quantization_axis = tuple(info["input_reduced"])
    layer._kernel = q._add_int8(layer, "kernel", kernel_shape)
    scale_shape = list(kernel_shape)
    for axis in info["kernel_reduced"]:
        scale_shape[axis] = 1
    probe = torch.empty(scale_shape, device="meta")
    layer.kernel_scale = q._add_scale(
        layer, "kernel_scale", scale_to_output(probe, info, "kernel").shape
    )
    q._install(
        layer,
        _einsum_call,
        _einsum_product,
        _einsum_inputs_grad,
        q._DENSE_SAVE_ORDER,
    )


def _einsum_call(self, inputs):
    x = q._QuantizedProduct.apply(
        inputs,
        self._kernel,
        q._in_compute_dtype(self, self.kernel_scale),
        self._int8_product,
        self._int8_inputs_grad,
    )
    return q._finish(self, x, inputs)


def _einsum_product(self, inputs, kernel, kernel_scale):
    compute = self._compute_torch_dtype
    info = einsum_info(self)
    if self.inputs_quantizer is None:
        # Keras on torch: einsum has no float x int8 form, so dequantize.
        float_kernel = kernel.to(compute) / scale_to_kernel(kernel_scale, info)
        return torch.einsum(self.equation, inputs, float_kernel)
    q_inputs, inputs_scale = self.inputs_quantizer(inputs, axis=self.quantization_axis)
    inputs_scale = scale_to_output(inputs_scale, info, "input")
    x = torch.einsum(
        self.equation, q_inputs.to(torch.float32), kernel.to(torch.float32)
    )
    return x.to(compute) / (inputs_scale * kernel_scale)


def _einsum_inputs_grad(self, upstream, kernel, kernel_scale):
    info = einsum_info(self)
    float_kernel = kernel.to(upstream.dtype) / scale_to_kernel(kernel_scale, info)
    return torch.einsum(info["grad_equation"], upstream, float_kernel)


# --- Embedding ------------------------------------------------------------------


def quantize_embedding(layer, config):
    quantizer = config.weight_quantizer or AbsMaxQuantizer(axis=-1)
    embeddings = layer.embeddings
    values, scale = quantizer(embeddings.detach(), to_numpy=True)
    q._drop_weight(layer, embeddings)
    build_embedding(layer, config)
    q._assign(layer.embeddings, values)
    q._assign(layer.embeddings_scale, scale.squeeze(-1))


def build_embedding(layer, config):
    """Create Embedding's int8 variables and install the int8 call."""
    layer.embeddings = q._add_int8(
        layer, "embeddings", (layer.input_dim, layer.output_dim)
    )
    # Keras: one scale per row (the reduced axis is output_dim).
    layer.embeddings_scale = q._add_scale(layer, "embeddings_scale", (layer.input_dim,))
    q._install(layer, _embedding_call, save_order=_EMBEDDING_SAVE_ORDER)


def _embedding_call(self, inputs):
    if inputs.dtype not in (torch.int32, torch.int64):
        inputs = inputs.to(torch.int32)
    try:
        rows = self.embeddings[inputs]
    except IndexError as error:
        self._raise_out_of_range(inputs, error)
    scale = q._in_compute_dtype(self, self.embeddings_scale)[inputs]
    outputs = rows.to(self._compute_torch_dtype) / scale.unsqueeze(-1)
    if self.lora_enabled:
        outputs = (outputs + self._lora_delta(inputs)).to(self._compute_torch_dtype)
    return outputs
