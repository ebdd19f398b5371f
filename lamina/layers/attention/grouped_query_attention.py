"""GroupedQueryAttention: attention whose query heads share fewer key/value heads."""

import math
import numbers

import torch

from lamina import constraints, initializers, regularizers
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.activations.softmax import Softmax
from lamina.layers.attention._attention_utils import (
    causal_mask,
    large_negative,
    sdpa,
    unmasked,
)
from lamina.layers.attention._qkv_attention import QKVAttention
from lamina.layers.core.einsum_dense import EinsumDense
from lamina.layers.regularization.dropout import Dropout

_NAME = "GroupQueryAttention"


class GroupedQueryAttention(QKVAttention):
    """Grouped-query attention (Ainslie et al., 2023): `num_query_heads` query
    heads attend over `num_key_value_heads` key/value heads, each key/value head
    serving `num_query_heads // num_key_value_heads` query heads. With as many
    key/value heads as query heads it is multi-head attention; with one it is
    multi-query attention. Exported as `GroupQueryAttention` too, Keras's
    public name; the class keeps Keras's class name, which names its group in
    weight files (`grouped_query_attention`).

    Args:
        head_dim: Size of each attention head, a positive int.
        num_query_heads: Number of query heads, a positive int.
        num_key_value_heads: Number of key and value heads; must divide
            `num_query_heads`.
        dropout: Dropout rate on the attention probabilities. Defaults to 0.
        use_bias: Whether the projections have biases. Defaults to `True`.
        sliding_window: `None` or a positive int: position `i` attends only to
            positions `j` with `|i - j| < sliding_window`. Defaults to `None`.
        flash_attention: `True` forces PyTorch's flash kernel (no dropout, no
            scores). Defaults to `None`.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint: For the projections (`EinsumDense` layers `query`,
            `key`, [`gate`,] `value`, `attention_output`).
        use_gate: Multiply the attention output by a sigmoid gate projected
            from the query before the output projection. Defaults to `False`.
        seed: Int seed for the dropout.

    Call arguments: `query` `(batch, target, dim)`, `value` `(batch, source,
    dim)`, optional `key` (defaults to `value`), `query_mask`, `value_mask`,
    `key_mask`, `attention_mask` `(batch, target, source)`,
    `return_attention_scores`, `training`, `use_causal_mask`. Returns
    `(batch, target, dim)`, and the scores `(batch, num_query_heads, target,
    source)` if asked for.

    Example:
    >>> layer = GroupedQueryAttention(8, num_query_heads=4, num_key_value_heads=2)
    >>> x = np.ones((2, 5, 16), "float32")
    >>> out, scores = layer(x, x, return_attention_scores=True)
    >>> tuple(out.shape), tuple(scores.shape)
    ((2, 5, 16), (2, 4, 5, 5))
    """

    def __init__(
        self,
        head_dim,
        num_query_heads,
        num_key_value_heads,
        dropout=0.0,
        use_bias=True,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg, value in (
            ("head_dim", head_dim),
            ("num_query_heads", num_query_heads),
            ("num_key_value_heads", num_key_value_heads),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Integral)
                or value < 1
            ):
                raise ValueError(
                    f"GroupQueryAttention expects `{arg}` to be a positive int; "
                    f"got {arg}={value!r}."
                )
        if num_query_heads % num_key_value_heads != 0:
            raise ValueError(
                "GroupQueryAttention expects `num_query_heads` to be divisible by "
                f"`num_key_value_heads`; got num_query_heads={num_query_heads} and "
                f"num_key_value_heads={num_key_value_heads}."
            )
        if sliding_window is not None and (
            isinstance(sliding_window, bool)
            or not isinstance(sliding_window, int)
            or sliding_window <= 0
        ):
            raise ValueError(
                "GroupQueryAttention expects `sliding_window` to be None or a "
                f"positive int; got sliding_window={sliding_window!r}."
            )
        if flash_attention and dropout > 0.0:
            raise ValueError(
                "GroupQueryAttention: Dropout is not supported when flash attention "
                f"is enabled (flash_attention=True); got dropout={dropout}. Set "
                "dropout=0.0 or flash_attention=None."
            )
        self.supports_masking = True
        self.head_dim = int(head_dim)
        self.num_query_heads = int(num_query_heads)
        self.num_key_value_heads = int(num_key_value_heads)
        self.num_repeats = self.num_query_heads // self.num_key_value_heads
        self.dropout = dropout
        self.use_bias = use_bias
        self.use_gate = use_gate
        self.sliding_window = sliding_window
        self._flash_attention = bool(flash_attention)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        # Keras: on the projections and on this layer's output alike.
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._inverse_sqrt_head_dim = 1.0 / math.sqrt(float(self.head_dim))

    # --- building -------------------------------------------------------------

    def build(self, query_shape, value_shape=None, key_shape=None):
        if (
            value_shape is None
            and query_shape
            and isinstance(query_shape[0], (list, tuple))
        ):
            shapes = [tuple(s) for s in query_shape]
            query_shape, value_shape = shapes[0], shapes[1]
            key_shape = shapes[2] if len(shapes) > 2 else None
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        self.feature_dim = query_shape[-1]
        # Keras's order (query, key, [gate,] value, output): files depend on it.
        self._query_dense = self._projection(
            "bqm,muh->bquh", self.num_query_heads, "uh", "query", query_shape
        )
        self._key_dense = self._projection(
            "bkm,mvh->bkvh", self.num_key_value_heads, "vh", "key", key_shape
        )
        if self.use_gate:
            self._gate_dense = self._projection(
                "bqm,muh->bquh",
                self.num_query_heads,
                "uh",
                "gate",
                query_shape,
                activation="sigmoid",
            )
        self._value_dense = self._projection(
            "bkm,mvh->bkvh", self.num_key_value_heads, "vh", "value", value_shape
        )
        # Keras's Softmax sublayer (saved as an empty group); the call path
        # computes the softmax directly.
        self._softmax = Softmax(axis=-1, dtype=self.dtype_policy)
        self._dropout_layer = Dropout(
            rate=self.dropout, dtype=self.dtype_policy, seed=self.seed
        )
        self._output_dense = EinsumDense(
            "bquh,uhm->bqm",
            output_shape=(None, self.feature_dim),
            bias_axes="m" if self.use_bias else None,
            name="attention_output",
            **self._get_common_kwargs_for_sublayer(),
        )
        self._output_dense.build((None, None, self.num_query_heads, self.head_dim))

    def _projection(self, equation, heads, bias_axes, name, shape, activation=None):
        layer = EinsumDense(
            equation,
            output_shape=(None, heads, self.head_dim),
            bias_axes=bias_axes if self.use_bias else None,
            activation=activation,
            name=name,
            **self._get_common_kwargs_for_sublayer(),
        )
        layer.build(shape)
        return layer

    def _get_common_kwargs_for_sublayer(self):
        # A fresh initializer per projection, as in Keras.
        return dict(
            kernel_initializer=type(self.kernel_initializer).from_config(
                self.kernel_initializer.get_config()
            ),
            bias_initializer=type(self.bias_initializer).from_config(
                self.bias_initializer.get_config()
            ),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            activity_regularizer=self.activity_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
        )

    def _label(self):
        return _NAME

    def _window(self):
        return self.sliding_window

    # --- calling --------------------------------------------------------------

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        # 1. One boolean mask (B, T, S); causal-only attention goes to the fused
        # kernel's is_causal instead.
        value, key, attention_mask, causal_only = self._inputs_and_mask(
            query,
            value,
            key,
            query_mask,
            value_mask,
            key_mask,
            attention_mask,
            use_causal_mask,
        )
        # 2. Projections; each key/value head serves `num_repeats` query heads.
        query = unmasked(query)
        gate = self._gate_dense(query) if self.use_gate else None
        query = self._query_dense(query)
        key = self._key_dense(key).repeat_interleave(self.num_repeats, dim=2)
        value = self._value_dense(value).repeat_interleave(self.num_repeats, dim=2)
        # 3. Attention, then the output projection. Keras's signature: the
        # scores request travels on the layer, so subclasses overriding
        # _compute_attention(query, key, value, attention_mask, training) work.
        self._return_attention_scores = return_attention_scores
        extra = {"use_causal_mask": True} if causal_only else {}
        output, scores = self._compute_attention(
            query,
            key,
            value,
            attention_mask=attention_mask,
            training=training,
            **extra,
        )
        if gate is not None:
            output = output * gate
        output = self._output_dense(output)
        if return_attention_scores:
            return output, scores
        return output

    def _fused_causal(self):
        # A subclass with its own _compute_attention gets the mask itself.
        return type(self)._compute_attention is GroupedQueryAttention._compute_attention

    def _compute_attention(
        self,
        query,
        key,
        value,
        attention_mask=None,
        training=None,
        use_causal_mask=False,
    ):
        """Attention of projected `query (B, T, N, H)` over `key`, `value`
        `(B, S, N, H)`: `(output, scores)`, scores `None` on the fused path
        (scores are computed when the call asked for them)."""
        return_attention_scores = getattr(self, "_return_attention_scores", False)
        if self._flash_attention and return_attention_scores:
            raise ValueError(
                f"Layer '{self.name}' (GroupQueryAttention): Returning attention scores is "
                "not supported when flash attention is enabled. Please disable "
                "flash attention to access attention scores: create the layer "
                "with flash_attention=None (or False)."
            )
        dropping = bool(training) and self.dropout > 0.0
        if not return_attention_scores and not dropping:
            mask = None
            if attention_mask is not None:
                while attention_mask.ndim < 4:
                    attention_mask = attention_mask.unsqueeze(-3)
                # Keras's torch backend adds a large negative number where the
                # mask is False.
                mask = torch.zeros(
                    attention_mask.shape, dtype=query.dtype, device=query.device
                ).masked_fill_(~attention_mask, large_negative(query.dtype))
            output = sdpa(
                query.transpose(1, 2),
                key.transpose(1, 2),
                value.transpose(1, 2),
                mask,
                0.0,
                bool(use_causal_mask),
                self._inverse_sqrt_head_dim,
                self._flash_attention,
            )
            return output.transpose(1, 2), None
        if use_causal_mask:
            causal = causal_mask(query.shape[1], key.shape[1], query.device)
            attention_mask = (
                causal if attention_mask is None else attention_mask & causal
            )
        scores = torch.einsum(
            "bquh,bkuh->buqk", query * self._inverse_sqrt_head_dim, key
        )
        if attention_mask is not None:
            keep = attention_mask.unsqueeze(-3)
            fill = -3e4 if scores.dtype == torch.float16 else -1e9
            scores = torch.where(keep, scores, fill)
            # Keras's Softmax layer: fully masked rows give zeros.
            probs = torch.softmax(scores, dim=-1).to(scores.dtype)
            scores = torch.where(keep, probs, 0.0)
        else:
            # .to: CUDA's autocast computes softmax in float32; Keras keeps
            # the scores' dtype.
            scores = torch.softmax(scores, dim=-1).to(scores.dtype)
        dropped = self._dropout_layer(scores, training=training) if dropping else scores
        return torch.einsum("buqk,bkuh->bquh", dropped, value), scores

    # --- shapes and config ------------------------------------------------------

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        if (
            value_shape is None
            and query_shape
            and isinstance(query_shape[0], (list, tuple))
        ):
            query_shape, value_shape, *rest = list(query_shape) + [None]
            key_shape = rest[0] if rest else None
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        if query_shape[-1] != value_shape[-1]:
            raise ValueError(
                f"Layer '{self.name}' (GroupQueryAttention) needs `query` and "
                "`value` to have the same last axis (their last dimensions must "
                "be equal); got query shape "
                f"{query_shape} and value shape {value_shape}."
            )
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                f"Layer '{self.name}' (GroupQueryAttention): all axes of `value` "
                "and `key` but the last must be equal; got value shape "
                f"{value_shape} and key shape {key_shape}."
            )
        return query_shape

    def compute_output_spec(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        key_shape = None if key is None else key.shape
        out = KerasTensor(
            self.compute_output_shape(query.shape, value.shape, key_shape),
            dtype=self.compute_dtype,
        )
        if not return_attention_scores:
            return out
        source = value.shape[1] if key is None else key.shape[1]
        scores_shape = (query.shape[0], self.num_query_heads, query.shape[1], source)
        return out, KerasTensor(scores_shape, dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "head_dim": self.head_dim,
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "sliding_window": self.sliding_window,
            "dropout": self.dropout,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "seed": self.seed,
        }


# Keras's public name for the class.
GroupQueryAttention = GroupedQueryAttention
