"""Attention: dot-product (Luong-style) attention over `[query, value(, key)]`."""

import torch
import torch.nn.functional as F

from lamina import backend, random
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.layer import Layer


class Attention(Layer):
    """Dot-product attention: `softmax(query @ key^T) @ value`.

    Args:
        use_scale: If `True`, a learned scalar `scale` multiplies the scores.
            Defaults to `False`.
        score_mode: `"dot"` (query-key dot products) or `"concat"` (sum of
            `tanh(query + key)` over features, times a learned scalar
            `concat_score_weight`). Defaults to `"dot"`.
        dropout: Dropout rate on the attention probabilities while training.
        seed: Int seed for the dropout.

    Call arguments: `inputs=[query (B, Tq, dim), value (B, Tv, dim)]` or
    `[query, value, key (B, Tv, dim)]`; `mask=[query_mask (B, Tq),
    value_mask (B, Tv)]` booleans (taken from the inputs' Keras masks when not
    given); `return_attention_scores`; `training`; `use_causal_mask`.

    Returns `(B, Tq, dim)` outputs (zero where the query is masked), and with
    `return_attention_scores=True` also the probabilities `(B, Tq, Tv)`.

    Example:
    >>> q = np.ones((2, 3, 4), "float32")
    >>> v = np.ones((2, 5, 4), "float32")
    >>> tuple(lamina.layers.Attention()([q, v]).shape)
    (2, 3, 4)
    """

    def __init__(
        self,
        use_scale: bool = False,
        score_mode: str = "dot",
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                f"{type(self).__name__}: Invalid value for argument score_mode. "
                f"Expected one of {{'dot', 'concat'}}; got score_mode={score_mode!r}."
            )
        if isinstance(dropout, bool) or not 0.0 <= dropout <= 1.0:
            raise ValueError(
                f"{type(self).__name__} expects `dropout` in [0, 1]; got "
                f"dropout={dropout!r}."
            )
        self.use_scale = use_scale
        self.score_mode = score_mode
        self.dropout = dropout
        self.seed = seed
        self.supports_masking = True  # as in Keras (the query's mask goes on)
        if self.dropout > 0:
            self.seed_generator = random.SeedGenerator(seed=seed)

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        # Names match Keras's variables; the attributes stay None when unused.
        if self.use_scale:
            self.scale = self.add_weight(
                name="scale", shape=(), initializer="ones", trainable=True
            )
        else:
            self.scale = None
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(
                name="concat_score_weight",
                shape=(),
                initializer="ones",
                trainable=True,
            )
        else:
            self.concat_score_weight = None
        self.built = True

    def _calculate_scores(self, query, key):
        """Scores `(B, Tq, Tv)` of `query (B, Tq, dim)` against `key (B, Tv, dim)`."""
        if self.score_mode == "dot":
            scores = torch.matmul(query, key.transpose(-2, -1))
            if self.scale is not None:
                scores = scores * self.scale
            return scores
        pairs = query.unsqueeze(-2) + key.unsqueeze(-3)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * torch.tanh(pairs).sum(dim=-1)

    def _apply_scores(self, scores, value, scores_mask=None, training=False):
        """`(softmax(scores) @ value, softmax(scores))`, masked positions
        pushed to -1e9 before the softmax (Keras's convention)."""
        if scores_mask is not None:
            big = 65504.0 if scores.dtype == torch.float16 else 1.0e9
            if scores_mask.ndim == 2:
                scores_mask = scores_mask.unsqueeze(-2)
            scores = torch.where(scores_mask, scores, scores - big)
        # CUDA's autocast computes softmax in float32: the weights keep the
        # scores' dtype, as in Keras.
        weights = torch.softmax(scores, dim=-1).to(scores.dtype)
        if training and self.dropout > 0:
            weights_used = random.dropout(
                weights, self.dropout, seed=self.seed_generator
            )
        else:
            weights_used = weights
        if weights_used.dtype != value.dtype and not torch.is_autocast_enabled(
            value.device.type
        ):
            # Scores promoted against a weight of another dtype (a policy set
            # after build): Keras's matmul promotes the values too.
            value = value.to(torch.promote_types(weights_used.dtype, value.dtype))
            weights_used = weights_used.to(value.dtype)
        # Keras returns the weights after dropout as the attention scores.
        return torch.matmul(weights_used, value), weights_used

    def _calculate_score_mask(self, scores, v_mask, use_causal_mask):
        if not use_causal_mask:
            return v_mask
        tq, tv = scores.shape[-2], scores.shape[-1]
        causal = torch.tril(
            torch.ones((tq, tv), dtype=torch.bool, device=scores.device)
        ).unsqueeze(0)
        if v_mask is None:
            return causal
        return v_mask.unsqueeze(-2) & causal

    def call(
        self,
        inputs,
        mask=None,
        training=False,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        self._validate_inputs(inputs, mask)
        q, v, k = self._cast_inputs(inputs)
        q_mask = _bool(mask[0]) if mask else None
        v_mask = _bool(mask[1]) if mask else None
        dropping = bool(training) and self.dropout > 0
        if (
            self.score_mode == "dot"
            and not return_attention_scores
            and (not dropping or self.seed is None)
        ):
            output = self._fused(q, k, v, v_mask, use_causal_mask, dropping)
            scores = None
        else:
            raw = self._calculate_scores(query=q, key=k)
            scores_mask = self._calculate_score_mask(raw, v_mask, use_causal_mask)
            output, scores = self._apply_scores(
                raw, v, scores_mask=scores_mask, training=training
            )
        if q_mask is not None:
            output = torch.where(q_mask.unsqueeze(-1), output, 0.0)
        if return_attention_scores:
            return output, scores
        return output

    def _fused(self, q, k, v, v_mask, use_causal_mask, dropping):
        # F.scaled_dot_product_attention computes q k^T * scale + mask; an
        # additive -1e9 mask equals Keras's `scores - 1e9` on masked positions.
        if self.scale is not None:
            q = q * self.scale
        mask = None
        if v_mask is not None or use_causal_mask:
            tq, tv = q.shape[-2], k.shape[-2]
            bool_mask = None
            if v_mask is not None:
                bool_mask = v_mask.unsqueeze(-2)
            if use_causal_mask:
                causal = torch.tril(
                    torch.ones((tq, tv), dtype=torch.bool, device=q.device)
                )
                bool_mask = causal if bool_mask is None else bool_mask & causal
            big = 65504.0 if q.dtype == torch.float16 else 1.0e9
            mask = torch.zeros(
                bool_mask.shape, dtype=q.dtype, device=q.device
            ).masked_fill_(~bool_mask, -big)
        return F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout if dropping else 0.0,
            scale=1.0,
        )

    def compute_mask(self, inputs, mask=None):
        # Keras names the argument `mask`; the output keeps the query's mask.
        if mask is None or mask[0] is None:
            return None
        return _bool(mask[0])

    def compute_output_shape(self, input_shape):
        query_shape, value_shape = tuple(input_shape[0]), tuple(input_shape[1])
        return (*query_shape[:-1], value_shape[-1])

    def compute_output_spec(
        self,
        inputs,
        mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        self._validate_inputs(inputs, mask)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        out = KerasTensor(
            self.compute_output_shape([query.shape, value.shape]),
            dtype=self.compute_dtype,
        )
        if not return_attention_scores:
            return out
        scores = KerasTensor(
            (*query.shape[:-1], key.shape[-2]), dtype=self.compute_dtype
        )
        return out, scores

    def _validate_inputs(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"Layer '{self.name}' ({name}) must be called on a list "
                f"[query, value] or [query, value, key]; got a single "
                f"{type(inputs).__name__}. Write layer([query, value])."
            )
        if inputs and all(d is None or isinstance(d, int) for d in inputs):
            raise ValueError(  # one shape (build) rather than a list of them
                f"Layer '{self.name}' ({name}) must be called on a list "
                f"[query, value] or [query, value, key]; got a single input "
                f"of shape {tuple(inputs)}. Write layer([query, value])."
            )
        if not 2 <= len(inputs) <= 3:
            raise ValueError(
                f"Layer '{self.name}' ({name}) takes a list of length 2 or 3 "
                f"[query, value(, key)]; got {len(inputs)} inputs."
            )
        if mask is not None:
            if not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
                raise ValueError(
                    f"Layer '{self.name}' ({name}): the layer mask must be a list "
                    "of length 2 or 3 [query_mask, value_mask]; got mask="
                    f"{type(mask).__name__} of length "
                    f"{len(mask) if isinstance(mask, (list, tuple)) else 1}."
                )

    def _cast_inputs(self, inputs):
        """`(query, value, key)`, floats in the compute dtype: the layer's
        `__call__` casts only a single tensor input, Keras casts every tensor
        in the list."""
        tensors = list(inputs[:3])
        if self.autocast:
            dtype = self._compute_torch_dtype
            tensors = [
                t.to(dtype)
                if isinstance(t, torch.Tensor) and t.is_floating_point()
                else t
                for t in tensors
            ]
        if len(tensors) == 2:
            tensors.append(tensors[1])
        return tensors

    def get_config(self):
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }


def _bool(mask):
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        mask = backend.convert_to_tensor(mask)
    return mask if mask.dtype == torch.bool else mask.to(torch.bool)
