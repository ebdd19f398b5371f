"""`dot_product_attention` of `keras.ops.nn`, on torch's fused
`scaled_dot_product_attention` (flash / memory-efficient kernels when the
device has them).
"""

import math

import torch
import torch.nn.functional as F

from lamina.ops._utils import Tensor, floatx_dtype, to_tensor
from lamina.ops.operation import op


def _large_negative(dtype: torch.dtype) -> float:
    # Keras: a finite "minus infinity", so fully masked rows stay uniform, not NaN.
    return -0.7 * torch.finfo(dtype).max


@op
def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    scale=None,
    is_causal: bool = False,
    flash_attention=None,
    attn_logits_soft_cap=None,
) -> Tensor:
    """`softmax(query @ key^T * scale + bias) @ value`, per head.

    Args:
        query: `(batch, query_length, heads, head_dim)`.
        key: `(batch, key_length, kv_heads, head_dim)`; `heads` must be a
            multiple of `kv_heads` (grouped-query attention).
        value: `(batch, key_length, kv_heads, value_dim)`.
        bias: Added to the logits; broadcastable to
            `(batch, heads, query_length, key_length)`.
        mask: Boolean, same broadcasting; `False` hides a key from a query.
            Only one of `bias` and `mask` may be given.
        scale: Defaults to `1 / sqrt(head_dim)`.
        is_causal: Hide keys that come after the query position.
        flash_attention: Accepted for Keras compatibility; torch chooses its
            fused kernel itself.
        attn_logits_soft_cap: If set, logits become `cap * tanh(logits / cap)`.

    Returns:
        `(batch, query_length, heads, value_dim)`.
    """
    query = to_tensor(query)
    key = to_tensor(key, device=query.device)
    value = to_tensor(value, device=query.device)
    if query.ndim != 4 or key.ndim != 4 or value.ndim != 4:
        raise ValueError(
            "ops.dot_product_attention expects rank-4 query, key and value "
            "(batch, length, heads, head_dim); got query.shape="
            f"{tuple(query.shape)}, key.shape={tuple(key.shape)}, value.shape="
            f"{tuple(value.shape)}."
        )
    if bias is not None and mask is not None:
        raise ValueError(
            "ops.dot_product_attention accepts `bias` or `mask`, not both; got "
            "both. Fold the mask into the bias (large negative where hidden)."
        )
    heads, kv_heads = query.shape[2], key.shape[2]
    if heads % kv_heads or value.shape[2] != kv_heads:
        raise ValueError(
            "ops.dot_product_attention expects the query heads to be a multiple "
            "of the key/value heads (equal for key and value); got "
            f"query.shape={tuple(query.shape)}, key.shape={tuple(key.shape)}, "
            f"value.shape={tuple(value.shape)}."
        )
    dtype = torch.promote_types(
        torch.promote_types(query.dtype, key.dtype), value.dtype
    )
    if not dtype.is_floating_point:
        dtype = floatx_dtype()
    # (batch, heads, length, dim), torch's layout.
    q, k, v = (t.to(dtype).transpose(1, 2) for t in (query, key, value))
    if kv_heads != heads:
        k = k.repeat_interleave(heads // kv_heads, dim=1)
        v = v.repeat_interleave(heads // kv_heads, dim=1)
    q_len, kv_len = q.shape[2], k.shape[2]
    attn = None
    if mask is not None:
        mask = to_tensor(mask, device=q.device).to(torch.bool)
        if is_causal:
            causal = torch.ones((q_len, kv_len), dtype=torch.bool, device=q.device)
            mask = mask & torch.tril(causal)
            is_causal = False
        attn = torch.where(mask, 0.0, _large_negative(dtype)).to(dtype)
    elif bias is not None:
        attn = to_tensor(bias, device=q.device).to(dtype)
    if attn_logits_soft_cap is None:
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn, is_causal=is_causal, scale=scale
        )
    else:
        scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
        logits = torch.matmul(q, k.transpose(-1, -2)) * scale
        logits = attn_logits_soft_cap * torch.tanh(logits / attn_logits_soft_cap)
        if attn is not None:
            logits = logits + attn
        if is_causal:
            causal = torch.ones((q_len, kv_len), dtype=torch.bool, device=q.device)
            logits = logits.masked_fill(~torch.tril(causal), _large_negative(dtype))
        out = torch.matmul(torch.softmax(logits, dim=-1), v)
    return out.transpose(1, 2)


__all__ = ["dot_product_attention"]
