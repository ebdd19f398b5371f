"""Helpers of MultiHeadAttention and GroupQueryAttention: einsum equations,
masks, the fused kernel."""

import math
import string

import torch
import torch.nn.functional as F
from torch.nn.modules import module as _torch_module

from lamina import backend
from lamina.layers.core.einsum_dense import EinsumDense


def input_shapes(args, kwargs, shape_of, layer="MultiHeadAttention"):
    """`[query_shape, value_shape(, key_shape)]` from a call's arguments."""
    query = args[0] if args else kwargs.get("query")
    value = args[1] if len(args) > 1 else kwargs.get("value")
    key = args[2] if len(args) > 2 else kwargs.get("key")
    if value is None:
        raise ValueError(
            f"{layer} must be called as layer(query, value) or "
            "layer(query, value, key); `value` is missing. For self-attention "
            "write layer(x, x)."
        )
    shapes = [shape_of(query), shape_of(value)]
    if key is not None:
        shapes.append(shape_of(key))
    return shapes


def as_tensor(x, like):
    if isinstance(x, torch.Tensor):
        if x.is_floating_point() and x.dtype != like.dtype and like.is_floating_point():
            return x.to(like.dtype)
        return x
    return backend.convert_to_tensor(x, dtype=str(like.dtype).replace("torch.", ""))


def mask_of(x):
    return getattr(x, "_keras_mask", None)


def unmasked(x):
    """`x` without its `_keras_mask` (a view: the caller's tensor keeps it), for
    the projections inside an attention layer: the mask is already read, and as
    Keras clears it there, the sublayers do not warn that they drop a mask."""
    return x if mask_of(x) is None else x.view_as(x)


def as_bool(mask):
    if not isinstance(mask, torch.Tensor):
        mask = backend.convert_to_tensor(mask)
    return mask if mask.dtype == torch.bool else mask.to(torch.bool)


def causal_mask(t, s, device):
    """Lower-triangular `(1, T, S)` booleans: position i sees j <= i."""
    return torch.tril(torch.ones((t, s), dtype=torch.bool, device=device))[None]


def sliding_window_mask(t, s, window, device):
    """`(1, T, S)` booleans: position i sees j with |i - j| < window."""
    rows = torch.arange(t, device=device).reshape(1, t, 1)
    cols = torch.arange(s, device=device).reshape(1, 1, s)
    return (rows - cols).abs() < window


def combined_mask(
    query,
    value,
    query_mask,
    value_mask,
    key_mask,
    attention_mask,
    use_causal_mask,
    sliding_window,
):
    """AND of the query mask `(B, T, 1)`, value/key masks `(B, 1, S)`, the
    causal and sliding-window masks `(1, T, S)` and `attention_mask`, on the
    query's device (a NumPy mask works too); None when there is none."""
    auto_mask = None
    device = query.device
    if query_mask is not None:
        auto_mask = as_bool(query_mask).to(device).unsqueeze(-1)
    for mask in (value_mask, key_mask):
        if mask is not None:
            mask = as_bool(mask).to(device).unsqueeze(-2)
            auto_mask = mask if auto_mask is None else auto_mask & mask
    t, s = query.shape[1], value.shape[1]
    if use_causal_mask:
        mask = causal_mask(t, s, device)
        auto_mask = mask if auto_mask is None else auto_mask & mask
    if sliding_window is not None:
        mask = sliding_window_mask(t, s, sliding_window, device)
        auto_mask = mask if auto_mask is None else auto_mask & mask
    if attention_mask is not None:
        attention_mask = as_bool(attention_mask).to(device)
    if auto_mask is not None:
        attention_mask = (
            auto_mask if attention_mask is None else attention_mask & auto_mask
        )
    return attention_mask


def plain_projection(layer) -> bool:
    """Whether `project(layer, x)` computes exactly what `layer(x)` would.

    True for a plain `EinsumDense` whose equation is a matrix product with a
    bias over all its output axes (or none), a linear activation, and nothing
    that the layer call adds around `call()`: no activity regularizer, no
    mixed-precision autocast, no forward hooks, no `call` replaced on the
    instance (LoRA and quantization do that). Cheap enough to ask every call,
    so a projection quantized or hooked later takes the layer call again.
    """
    if type(layer) is not EinsumDense:
        return False
    plan = layer._matmul
    return (
        plan is not None
        and layer._linear_activation
        and "call" not in layer.__dict__
        and layer.activity_regularizer is None
        and not layer._mixed
        and not layer._forward_hooks
        and not layer._forward_pre_hooks
        and (plan[1] or layer.bias is None)
    )


def no_global_hooks() -> bool:
    """No torch hooks registered for every module (they see each layer call)."""
    return not (
        _torch_module._global_forward_hooks or _torch_module._global_forward_pre_hooks
    )


def project(layer, inputs):
    """`EinsumDense.call`'s matrix-product path for a `plain_projection`
    layer, without the layer call around it: the same GEMM, so the same
    numbers, with less Python per call."""
    n_bound = layer._matmul[0]
    kernel = layer._kernel
    out_dims = kernel.shape[n_bound:]
    flat_in = inputs if n_bound == 1 else inputs.flatten(-n_bound)
    flat_kernel = kernel.reshape(-1, math.prod(out_dims))
    bias = layer.bias
    if bias is None:
        outputs = torch.matmul(flat_in, flat_kernel)
    else:
        outputs = F.linear(flat_in, flat_kernel.t(), bias.reshape(-1))
    return outputs if len(out_dims) == 1 else outputs.unflatten(-1, out_dims)


def large_negative(dtype) -> float:
    # Keras's torch backend: -0.7 * (largest float16 / float32-ish value).
    return (65500.0 if dtype == torch.float16 else 3.38953e38) * -0.7


def sdpa(query, key, value, mask, dropout_p, is_causal, scale, flash):
    if flash:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        try:
            with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
                return F.scaled_dot_product_attention(
                    query, key, value, attn_mask=mask, is_causal=is_causal, scale=scale
                )
        except RuntimeError as error:
            if "No available kernel" not in str(error):
                raise
            # Keras's phrase and type; torch's warnings above say why (on a GPU:
            # float16/bfloat16 inputs, no mask, a supported head size).
            raise ValueError(
                "Flash attention is not supported with the provided inputs "
                f"(dtype {query.dtype}, device {query.device.type}, head size "
                f"{query.shape[-1]}, mask {'given' if mask is not None else 'none'}). "
                "Please check the warnings for more details, or create the layer "
                "with flash_attention=False."
            ) from error
    return F.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=mask,
        dropout_p=dropout_p,
        is_causal=is_causal,
        scale=scale,
    )


def letter(i):
    return string.ascii_lowercase[i]


def build_attention_equation(rank, attn_axes):
    """Einsum equations `key,query->scores` and `scores,value->output` for
    projected tensors of `rank` `(batch, <axes>, heads, channels)`.

    Batch-like axes (including the heads) are kept; attention axes of the
    query ("target") are paired with fresh letters for the key ("source").
    """
    target = "".join(letter(i) for i in range(rank))
    batch_dims = [i for i in range(rank) if i not in attn_axes and i != rank - 1]
    source, next_letter = "", rank
    for i in range(rank):
        if i in batch_dims or i == rank - 1:
            source += target[i]
        else:
            source += letter(next_letter)
            next_letter += 1
    product = "".join(
        [target[i] for i in batch_dims]
        + [target[i] for i in attn_axes]
        + [source[i] for i in attn_axes]
    )
    dot_product = f"{source},{target}->{product}"
    combine = f"{product},{source}->{target}"
    return dot_product, combine, len(product)


def build_proj_equation(free_dims, bound_dims, output_dims):
    """`(equation, bias_axes, output_rank)` of a projection that keeps
    `free_dims` axes, contracts `bound_dims` and adds `output_dims`."""
    free = "".join(letter(i) for i in range(free_dims))
    bound = "".join(letter(free_dims + i) for i in range(bound_dims))
    out = "".join(letter(free_dims + bound_dims + i) for i in range(output_dims))
    return f"{free}{bound},{bound}{out}->{free}{out}", out, len(free) + len(out)


def get_output_shape(output_rank, known_last_dims):
    return [None] * (output_rank - len(known_last_dims)) + list(known_last_dims)
