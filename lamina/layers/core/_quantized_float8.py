"""float8 training for Dense and EinsumDense, as Keras 3 does it (delayed scaling).

`layer.quantize("float8")` keeps the float kernel (it still trains) and adds
six float32 variables: a scale and a window of recent absolute maxima
(`*_amax_history`, length `amax_history_length`, 1024 by default) for the
inputs, the kernel and the outputs' gradient. Each call runs the inputs and
the kernel through float8 e4m3 (quantize, dequantize) with their current
scales and multiplies them; the backward pass sends the outputs' gradient
through float8 e5m2 with its scale.

Keras makes the scales and histories trainable variables whose "gradient" is
their next value, and its optimizer writes that value in
(`overwrite_with_gradient`). lamina writes the same values in the backward
pass: the inputs' and kernel's when the call was a training call (as Keras,
whose other calls return no gradient for them), the outputs' gradient's
always. The kernel's gradient passes the float8 rounding straight through.
"""

import torch

from lamina.layers.core import _quantized as q
from lamina.quantizers import quantizers as _quantizers

# The eager maths under the public ops (no symbolic-tensor dispatch, which
# costs about 1 us a call): these run on real tensors, some every call.
compute_float8_amax_history = _quantizers.compute_float8_amax_history.__wrapped__
compute_float8_scale = _quantizers.compute_float8_scale.__wrapped__
quantize_and_dequantize = _quantizers.quantize_and_dequantize.__wrapped__

SAVE_ORDER = (
    "kernel",
    "bias",
    "inputs_scale",
    "inputs_amax_history",
    "kernel_scale",
    "kernel_amax_history",
    "outputs_grad_scale",
    "outputs_grad_amax_history",
)
_E4M3_MAX = float(torch.finfo(torch.float8_e4m3fn).max)
_E5M2_MAX = float(torch.finfo(torch.float8_e5m2).max)
_DEFAULT_HISTORY_LENGTH = 1024


def add_variables(layer):
    """Add the three scales and amax histories (float32, never autocast)."""
    length = getattr(
        q.own_policy(layer), "amax_history_length", _DEFAULT_HISTORY_LENGTH
    )
    for prefix in ("inputs", "kernel", "outputs_grad"):
        for suffix, shape, initializer in (
            ("scale", (), "ones"),
            ("amax_history", (length,), "zeros"),
        ):
            name = f"{prefix}_{suffix}"
            variable = layer.add_weight(
                name=name,
                shape=shape,
                initializer=initializer,
                dtype="float32",
                trainable=True,
                autocast=False,
                overwrite_with_gradient=True,
            )
            # Keras's optimizer writes the "gradient" into such variables;
            # lamina's backward pass writes it (see the module docstring).
            variable.overwrite_with_gradient = True
            setattr(layer, name, variable)


def install(layer, call):
    """Use the float8 call (it takes `training`) and Keras's save order."""
    q._install(layer, call, save_order=SAVE_ORDER)
    layer._call_has_training_arg = True
    # The backward pass writes variables: keep the step out of torch.compile.
    layer._eager_only = True


def quantize(layer, config):
    """Add float8 scaling to a built Dense or EinsumDense (the kernel stays)."""
    from lamina.layers.core.dense import Dense

    add_variables(layer)
    install(layer, _dense_call if isinstance(layer, Dense) else _einsum_call)


def _overwrite(variables, values):
    with torch.no_grad():
        for variable, value in zip(variables, values):
            variable.copy_(value.to(variable.dtype))


class _QuantizeDequantize(torch.autograd.Function):
    """Forward: `x` through float8 e4m3 with `scale`. Backward: the gradient
    unchanged for `x`; under training, the next scale and history (computed
    from the values at the call) written into the layer's variables."""

    @staticmethod
    def forward(ctx, x, scale, history, targets, compute):
        ctx.x_dtype = x.dtype
        ctx.updates = None
        if targets is not None:
            ctx.updates = (
                targets,
                (
                    compute_float8_scale(torch.amax(history), scale, _E4M3_MAX),
                    compute_float8_amax_history(x.detach(), history),
                ),
            )
        return quantize_and_dequantize(x, scale, "float8_e4m3fn", compute)

    @staticmethod
    def backward(ctx, upstream):
        if ctx.updates is not None:
            _overwrite(*ctx.updates)
        return upstream.to(ctx.x_dtype), None, None, None, None


class _GradientQuantizeDequantize(torch.autograd.Function):
    """Forward: identity. Backward: the gradient through float8 e5m2 with
    `scale`, and the next scale and history written into the variables."""

    @staticmethod
    def forward(ctx, x, scale, history, targets, compute):
        ctx.values = (scale.detach().clone(), history.detach().clone())
        ctx.targets = targets
        ctx.compute = compute
        return x.view_as(x)

    @staticmethod
    def backward(ctx, upstream):
        scale, history = ctx.values
        new_scale = compute_float8_scale(torch.amax(history), scale, _E5M2_MAX)
        grad = quantize_and_dequantize(upstream, scale, "float8_e5m2", ctx.compute)
        _overwrite(
            ctx.targets, (new_scale, compute_float8_amax_history(upstream, history))
        )
        return grad, None, None, None, None


def _qdq(layer, x, prefix, training):
    scale = getattr(layer, f"{prefix}_scale")
    history = getattr(layer, f"{prefix}_amax_history")
    targets = (scale, history) if training else None
    return _QuantizeDequantize.apply(
        x, scale, history, targets, layer._compute_torch_dtype
    )


def _gradient_qdq(layer, x):
    scale, history = layer.outputs_grad_scale, layer.outputs_grad_amax_history
    return _GradientQuantizeDequantize.apply(
        x, scale, history, (scale, history), layer._compute_torch_dtype
    )


def _finish(layer, x):
    bias = layer.bias
    if bias is not None:
        if layer.autocast:
            # Keras reads variables in the compute dtype (mixed policies).
            bias = bias.to(layer._compute_torch_dtype)
        if layer.dtype_policy.compute_dtype == "float32":
            # Keras: a float32 bias goes through bfloat16 first (an XLA fusion
            # need); matched so outputs agree.
            bias = bias.to(torch.bfloat16).to(bias.dtype)
        x = x + bias
    if layer._linear_activation:
        return x
    return layer.activation(x)


def _dense_call(self, inputs, training=None):
    if not inputs.is_floating_point():
        inputs = inputs.to(self._compute_torch_dtype)
    x = torch.matmul(
        _qdq(self, inputs, "inputs", training),
        _qdq(self, q._in_compute_dtype(self, self.kernel), "kernel", training),
    )
    return _finish(self, _with_lora(self, _gradient_qdq(self, x), inputs))


def _einsum_call(self, inputs, training=None):
    x = torch.einsum(
        self.equation,
        _qdq(self, inputs, "inputs", training),
        _qdq(self, q._in_compute_dtype(self, self._kernel), "kernel", training),
    )
    return _finish(self, _with_lora(self, _gradient_qdq(self, x), inputs))


def _with_lora(layer, x, inputs):
    """Add LoRA's low-rank product of the (unquantized) inputs, as the int8
    and int4 calls do (Keras 3.15 refuses LoRA in its float8 call)."""
    if not layer.lora_enabled:
        return x
    return x + layer._lora_delta(inputs).to(x.dtype)
