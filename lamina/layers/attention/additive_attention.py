"""AdditiveAttention: Bahdanau-style attention over `[query, value(, key)]`."""

import torch

from lamina.layers.attention.attention import Attention, _bool


class AdditiveAttention(Attention):
    """Additive attention: scores are `sum(scale * tanh(query + key), axis=-1)`.

    Args:
        use_scale: If `True`, a learned vector `scale` of the feature size
            weights the `tanh` terms. Defaults to `True`.
        dropout: Dropout rate on the attention probabilities while training.
        **kwargs: `seed`, an int seed for the dropout, and the arguments of
            `Layer`.

    Call arguments and outputs are those of `Attention`.

    Example:
    >>> q = np.ones((2, 3, 4), "float32")
    >>> v = np.ones((2, 5, 4), "float32")
    >>> tuple(lamina.layers.AdditiveAttention()([q, v]).shape)
    (2, 3, 4)
    """

    # A float policy set on the built layer needs no autocast: the scores
    # promote the inputs against `scale`'s dtype, as Keras's ops do.
    _promotes_weight_dtypes = True

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        dim = input_shape[0][-1]
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(
                name="scale",
                shape=(dim,),
                initializer="glorot_uniform",
                trainable=True,
            )
        else:
            self.scale = None
        self.built = True

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
        scores = self._calculate_scores(query=q, key=k)
        scores_mask = self._calculate_score_mask(scores, v_mask, use_causal_mask)
        output, probs = self._apply_scores(
            scores, v, scores_mask=scores_mask, training=training
        )
        if q_mask is not None:
            output = torch.where(q_mask.unsqueeze(-1), output, 0.0)
        if return_attention_scores:
            return output, probs
        return output

    def _calculate_scores(self, query, key):
        # (B, Tq, 1, dim) + (B, 1, Tv, dim) -> tanh -> weighted sum over dim.
        pairs = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))
        if self.use_scale:
            scale = self.scale
            if scale.dtype != pairs.dtype and not self._mixed:
                # A policy set after build keeps `scale`'s dtype; Keras's
                # product promotes (float16 x float32 -> float32).
                dtype = torch.promote_types(pairs.dtype, scale.dtype)
                pairs, scale = pairs.to(dtype), scale.to(dtype)
            return torch.matmul(pairs, scale)
        return pairs.sum(dim=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
