"""MultiHeadAttention: scaled dot-product attention over several learned heads."""

import math

import torch

from lamina import constraints, initializers, regularizers
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.activations.softmax import Softmax
from lamina.layers.attention._attention_utils import (
    build_attention_equation,
    build_proj_equation,
    causal_mask,
    get_output_shape,
    large_negative,
    no_global_hooks,
    plain_projection,
    project,
    sdpa,
    unmasked,
)
from lamina.layers.attention._qkv_attention import QKVAttention
from lamina.layers.core.einsum_dense import EinsumDense
from lamina.layers.regularization.dropout import Dropout


class MultiHeadAttention(QKVAttention):
    """Multi-head attention ("Attention is all you need", Vaswani et al., 2017).

    `query`, `key` and `value` are projected to `num_heads` heads by
    `EinsumDense` layers (kernels `(dim, num_heads, key_dim)`); each head
    computes `softmax(q k^T / sqrt(key_dim)) v`; the heads are projected back
    to the query's last size (or `output_shape`). With `query is value` this is
    self-attention.

    Args:
        num_heads: Number of heads, a positive int.
        key_dim: Size of each head for query and key.
        value_dim: Size of each head for value. Defaults to `key_dim`.
        dropout: Dropout rate on the attention probabilities while training.
        use_bias: Whether the projections have biases. Defaults to `True`.
        output_shape: Sizes of the output's trailing axes (an int or tuple).
            Defaults to the query's last size.
        attention_axes: Axes attended over. Defaults to all axes except batch,
            heads and features (the sequence axis for `(B, T, dim)` inputs).
        sliding_window: If set, position `i` attends only to positions `j`
            with `|i - j| < sliding_window`.
        flash_attention: `True` forces PyTorch's flash kernel (no dropout, no
            masks, no attention scores); `None` lets PyTorch choose.
        kernel_initializer, bias_initializer: Defaults `"glorot_uniform"`,
            `"zeros"`; each projection gets its own copy.
        kernel_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, bias_constraint: Passed to every projection.
        use_gate: If `True`, a sigmoid gate projected from the query multiplies
            the heads before the output projection.
        seed: Int seed for the dropout.

    Call arguments: `query (B, T, dim)`, `value (B, S, dim)`, `key (B, S, dim)`
    (defaults to `value`), `attention_mask (B, T, S)` booleans (True attends),
    `return_attention_scores`, `training`, `use_causal_mask`. Keras masks
    carried by the inputs (`_keras_mask`, e.g. from `Embedding(mask_zero=True)`)
    are combined with these, as in Keras.

    Returns `(B, T, E)` outputs, and with `return_attention_scores=True` also the
    attention probabilities `(B, num_heads, T, S)`.

    Example:
    >>> mha = lamina.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.ones((3, 5, 8), "float32")
    >>> tuple(mha(x, x).shape)
    (3, 5, 8)
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape=None,
        attention_axes=None,
        sliding_window: int | None = None,
        flash_attention: bool | None = None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate: bool = False,
        seed: int | None = None,
        **kwargs,
    ):
        for arg, value, optional in (
            ("num_heads", num_heads, False),
            ("key_dim", key_dim, False),
            ("value_dim", value_dim, True),
            ("sliding_window", sliding_window, True),
        ):
            if optional and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"MultiHeadAttention expects the argument `{arg}` to be a positive int"
                    f"{' or None' if optional else ''}; got {arg}={value!r}."
                )
        super().__init__(**kwargs)
        self.supports_masking = True
        self._num_heads = num_heads
        self._key_dim = key_dim
        self._value_dim = value_dim if value_dim else key_dim
        self._dropout = dropout
        self._use_bias = use_bias
        self._use_gate = use_gate
        if output_shape:
            if isinstance(output_shape, int):
                output_shape = (output_shape,)
            try:
                output_shape = tuple(output_shape)
            except TypeError:
                raise ValueError(
                    "MultiHeadAttention: Invalid `output_shape`; expected an int, "
                    f"a tuple or a list, got output_shape={output_shape!r}."
                ) from None
        self._output_shape = output_shape
        self._flash_attention = flash_attention
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._activity_regularizer = regularizers.get(activity_regularizer)
        self._kernel_constraint = constraints.get(kernel_constraint)
        self._bias_constraint = constraints.get(bias_constraint)
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(
                "MultiHeadAttention expects `attention_axes` to be an int, a list "
                f"or a tuple; got attention_axes={attention_axes!r}."
            )
        self._attention_axes = attention_axes
        self._sliding_window = sliding_window
        self.seed = seed
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))
        if self._flash_attention and self._dropout > 0.0:
            raise ValueError(
                "MultiHeadAttention: Dropout is not supported when flash attention "
                "is enabled (flash_attention=True). Set dropout=0.0 or "
                "flash_attention=None."
            )

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)
    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    # --- building -------------------------------------------------------------

    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the projections for inputs of these shapes.

        `query_shape` may also be the list `[query_shape, value_shape(,
        key_shape)]` (how lamina's base class and `build_from_config` pass it).
        """
        if (
            value_shape is None
            and query_shape
            and isinstance(query_shape[0], (list, tuple))
        ):
            shapes = [tuple(s) for s in query_shape]
            query_shape, value_shape = (
                shapes[0],
                shapes[1] if len(shapes) > 1 else shapes[0],
            )
            key_shape = shapes[2] if len(shapes) > 2 else None
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                f"Layer '{self.name}' (MultiHeadAttention): all axes of `value` "
                "and `key` but the last must be equal; got value shape "
                f"{value_shape} and key shape {key_shape}."
            )
        # Keras creates the sub-layers in this order (query, key, [gate,] value,
        # output); weight files and get_weights() depend on it.
        query_rank, value_rank, key_rank = (
            len(query_shape),
            len(value_shape),
            len(key_shape),
        )
        self._query_dense = self._projection(
            query_rank, [self._num_heads, self._key_dim], "query", query_shape
        )
        self._key_dense = self._projection(
            key_rank, [self._num_heads, self._key_dim], "key", key_shape
        )
        if self._use_gate:
            self._gate_dense = self._projection(
                query_rank,
                [self._num_heads, self._value_dim],
                "gate",
                query_shape,
                activation="sigmoid",
            )
        self._value_dense = self._projection(
            value_rank, [self._num_heads, self._value_dim], "value", value_shape
        )
        self._build_attention(value_rank + 1)
        out_dims = list(self._output_shape) if self._output_shape else [query_shape[-1]]
        equation, bias_axes, output_rank = build_proj_equation(
            query_rank - 1, bound_dims=2, output_dims=len(out_dims)
        )
        self._output_dense = EinsumDense(
            equation,
            output_shape=get_output_shape(output_rank - 1, out_dims),
            bias_axes=bias_axes if self._use_bias else None,
            name="attention_output",
            **self._get_common_kwargs_for_sublayer(),
        )
        heads_shape = list(self._query_dense.compute_output_shape(query_shape))
        heads_shape[-1] = self._value_dim
        self._output_dense.build(tuple(heads_shape))
        self.built = True

    def _projection(self, rank, head_dims, name, input_shape, activation=None):
        equation, bias_axes, output_rank = build_proj_equation(
            rank - 1, bound_dims=1, output_dims=2
        )
        layer = EinsumDense(
            equation,
            output_shape=get_output_shape(output_rank - 1, head_dims),
            bias_axes=bias_axes if self._use_bias else None,
            activation=activation,
            name=name,
            **self._get_common_kwargs_for_sublayer(),
        )
        layer.build(input_shape)
        return layer

    def _get_common_kwargs_for_sublayer(self):
        # A fresh initializer per projection (Keras: a shared unseeded one would
        # give every projection the same values).
        return dict(
            kernel_initializer=type(self._kernel_initializer).from_config(
                self._kernel_initializer.get_config()
            ),
            bias_initializer=type(self._bias_initializer).from_config(
                self._bias_initializer.get_config()
            ),
            kernel_regularizer=self._kernel_regularizer,
            bias_regularizer=self._bias_regularizer,
            activity_regularizer=self._activity_regularizer,
            kernel_constraint=self._kernel_constraint,
            bias_constraint=self._bias_constraint,
            dtype=self.dtype_policy,
        )

    def _build_attention(self, rank):
        """Einsum equations and softmax axes for projected tensors of `rank`."""
        if self._attention_axes is None:
            self._attention_axes = tuple(range(1, rank - 2))
        else:
            self._attention_axes = tuple(
                axis if axis >= 0 else (rank - 1) + axis
                for axis in self._attention_axes
            )
        (
            self._dot_product_equation,
            self._combine_equation,
            scores_rank,
        ) = build_attention_equation(rank, attn_axes=self._attention_axes)
        n_axes = len(self._attention_axes)
        self._softmax_axes = tuple(range(scores_rank - n_axes, scores_rank))
        # Keras keeps a Softmax sublayer here (an empty `_softmax/vars` group in
        # saved files, a place in `_flatten_layers`); `_masked_softmax` computes
        # the same values without a layer call.
        self._softmax = Softmax(axis=self._softmax_axes, dtype=self.dtype_policy)
        self._dropout_layer = Dropout(
            rate=self._dropout, dtype=self.dtype_policy, seed=self.seed
        )

    def _label(self):
        return "MultiHeadAttention"  # subclasses keep the base name in errors

    def _window(self):
        return self._sliding_window

    def _fused_causal(self):
        # A subclass with its own _compute_attention gets the mask itself.
        return type(self)._compute_attention is MultiHeadAttention._compute_attention

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
        # 1. One boolean mask (B, T, S) from every source; causal-only attention
        # goes to the fused kernel's is_causal instead (no mask materialized).
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
        # 2. Projections: (B, T, N, key_dim), (B, S, N, key_dim), (B, S, N, value_dim).
        query = unmasked(query)
        gate = self._gate_dense(query) if self._use_gate else None
        projections = self._query_dense, self._key_dense, self._value_dense
        output_dense = self._output_dense
        # Plain projections run their GEMM here: the same numbers as calling
        # them, without four layer calls around it (tens of us per call).
        # The projections' own compute dtype: a policy set on the built layer
        # leaves its sub-layers' policies as they were (as in Keras), so
        # their calls cast the inputs back.
        dtype = output_dense._compute_torch_dtype
        direct = (
            query.dtype == dtype
            and key.dtype == dtype
            and value.dtype == dtype
            and plain_projection(output_dense)
            and all(
                plain_projection(layer) and layer._compute_torch_dtype == dtype
                for layer in projections
            )
            and no_global_hooks()
        )
        if direct:
            query, key, value = (
                project(layer, x) for layer, x in zip(projections, (query, key, value))
            )
        else:
            query, key, value = (
                layer(x) for layer, x in zip(projections, (query, key, value))
            )
        extra = {"use_causal_mask": True} if causal_only else {}
        attention_output, attention_scores = self._compute_attention(
            query,
            key,
            value,
            attention_mask,
            training,
            return_attention_scores,
            **extra,
        )
        if gate is not None:
            attention_output = attention_output * gate
        if direct:
            attention_output = project(output_dense, attention_output)
        else:
            attention_output = output_dense(attention_output)
        if return_attention_scores:
            return attention_output, attention_scores
        return attention_output

    def _compute_attention(
        self,
        query,
        key,
        value,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        """Attention of projected `query (B, T, N, H)`, `key`, `value`.

        Override it for a custom attention; returns `(outputs, scores)`, scores
        being `None` when not asked for on the fused path.
        """
        if self._flash_attention and return_attention_scores:
            raise ValueError(
                f"Layer '{self.name}' (MultiHeadAttention): Returning attention scores is "
                "not supported when flash attention is enabled. Please disable "
                "flash attention to access attention scores: create the layer "
                "with flash_attention=None (or False)."
            )
        dropping = bool(training) and self._dropout > 0.0
        # Fused kernel whenever nothing needs the probabilities themselves;
        # seeded dropout needs lamina's RNG, so it takes the explicit path.
        if (
            not return_attention_scores
            and query.ndim == 4
            and (not dropping or self.seed is None)
        ):
            mask = None
            if attention_mask is not None:
                while attention_mask.ndim < 4:
                    attention_mask = attention_mask.unsqueeze(-3)
                # Keras's torch backend adds a large negative number where the
                # mask is False (rows with no True attend uniformly, not NaN).
                keep = attention_mask.to(torch.bool)
                mask = torch.zeros(
                    keep.shape, dtype=query.dtype, device=query.device
                ).masked_fill_(~keep, large_negative(query.dtype))
            output = sdpa(
                query.transpose(1, 2),
                key.transpose(1, 2),
                value.transpose(1, 2),
                mask,
                self._dropout if dropping else 0.0,
                bool(use_causal_mask),
                self._inverse_sqrt_key_dim,
                self._flash_attention,
            )
            return output.transpose(1, 2), None
        # Explicit path: the probabilities are returned or dropped out.
        if use_causal_mask:
            causal = self._compute_causal_mask(query, value)
            attention_mask = (
                causal
                if attention_mask is None
                else attention_mask.to(torch.bool) & causal
            )
        query = query * self._inverse_sqrt_key_dim
        scores = torch.einsum(self._dot_product_equation, key, query)
        scores = self._masked_softmax(scores, attention_mask)
        dropped = self._dropout_layer(scores, training=training) if dropping else scores
        output = torch.einsum(self._combine_equation, dropped, value)
        return output, scores

    def _masked_softmax(self, scores, attention_mask=None):
        if attention_mask is not None:
            mask = attention_mask.to(torch.bool)
            axis = -len(self._attention_axes) * 2 - 1
            while mask.ndim < scores.ndim:
                mask = mask.unsqueeze(axis)
            fill = -3e4 if scores.dtype == torch.float16 else -1e9
            scores = torch.where(mask, scores, fill)
        axes = self._softmax_axes
        if len(axes) == 1:
            probs = torch.softmax(scores, dim=axes[0])
        else:
            probs = torch.exp(scores - torch.logsumexp(scores, dim=axes, keepdim=True))
        # CUDA's autocast computes these in float32: the scores keep their
        # dtype, as in Keras.
        probs = probs.to(scores.dtype)
        if attention_mask is not None:
            # Keras's Softmax layer: fully masked rows give zeros, not uniform.
            probs = torch.where(mask, probs, 0.0)
        return probs

    def _compute_causal_mask(self, query, value=None):
        """Lower-triangular `(1, T, S)` booleans: position i sees j <= i."""
        t = query.shape[1]
        return causal_mask(t, t if value is None else value.shape[1], query.device)

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
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                f"Layer '{self.name}' (MultiHeadAttention): all axes of `value` "
                "and `key` but the last must be equal; got value shape "
                f"{value_shape} and key shape {key_shape}."
            )
        if self._output_shape:
            return query_shape[:-1] + tuple(self._output_shape)
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
        # Scores: (batch axes..., heads, query attention axes, key attention axes).
        key_shape = value.shape if key is None else key.shape
        target = tuple(query.shape[:-1]) + (self._num_heads, self._key_dim)
        source = tuple(key_shape[:-1]) + (self._num_heads, self._key_dim)
        src_eq, tgt_eq = self._dot_product_equation.split("->")[0].split(",")
        sizes = dict(zip(tgt_eq, target))
        sizes.update({c: d for c, d in zip(src_eq, source) if c not in sizes})
        product = self._dot_product_equation.split("->")[1]
        scores_shape = tuple(sizes[c] for c in product)
        return out, KerasTensor(scores_shape, dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self._num_heads,
            "key_dim": self._key_dim,
            "value_dim": self._value_dim,
            "dropout": self._dropout,
            "use_bias": self._use_bias,
            "use_gate": self._use_gate,
            "output_shape": self._output_shape,
            "attention_axes": self._attention_axes,
            "sliding_window": self._sliding_window,
            "kernel_initializer": initializers.serialize(self._kernel_initializer),
            "bias_initializer": initializers.serialize(self._bias_initializer),
            "kernel_regularizer": regularizers.serialize(self._kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self._bias_regularizer),
            "activity_regularizer": regularizers.serialize(self._activity_regularizer),
            "kernel_constraint": constraints.serialize(self._kernel_constraint),
            "bias_constraint": constraints.serialize(self._bias_constraint),
            "seed": self.seed,
        }
