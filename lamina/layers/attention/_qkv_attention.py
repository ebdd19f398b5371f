"""What MultiHeadAttention and GroupQueryAttention share: building from the
shapes of `(query, value, key)` on the first call, and one attention mask
from every mask source."""

from lamina.layers._layer_calls import _shape_of
from lamina.layers.attention._attention_utils import (
    as_tensor,
    combined_mask,
    input_shapes,
    mask_of,
    unmasked,
)
from lamina.layers.layer import Layer


class QKVAttention(Layer):
    """Base of the attention layers called as `layer(query, value, key=None)`.

    Subclasses define `build(query_shape, value_shape, key_shape=None)`,
    `_window()` (their sliding window or None) and `_fused_causal()` (whether
    causal-only attention may go to the fused kernel's `is_causal`).
    """

    # Keras builds these by keyword, `build(query_shape=..., value_shape=...[,
    # key_shape=...])` (Layer's rule for several `<arg>_shape` parameters);
    # here a missing `value` is named before that.

    def _build_on_first_call(self, args, kwargs):
        input_shapes(args, kwargs, _shape_of, self._label())
        super()._build_on_first_call(args, kwargs)

    def _symbolic_call(self, args, kwargs):
        if not self.built:
            input_shapes(args, kwargs, lambda t: tuple(t.shape), self._label())
        return super()._symbolic_call(args, kwargs)

    def _label(self):
        return type(self).__name__

    def _window(self):
        return None

    def _fused_causal(self):
        return True

    def _inputs_and_mask(
        self,
        query,
        value,
        key,
        query_mask,
        value_mask,
        key_mask,
        attention_mask,
        use_causal_mask,
    ):
        """`(value, key, attention_mask, causal_only)` for a call: inputs as
        tensors (without their masks, see `unmasked`), each input's own mask
        read only when that input was given (as Keras does), and one boolean
        `(B, T, S)` mask; `causal_only` when the causal mask is the only one
        (the fused kernel's `is_causal` then replaces it)."""
        value = as_tensor(value, query)
        key_mask = mask_of(key) if key_mask is None and key is not None else key_mask
        key = value if key is None else as_tensor(key, query)
        query_mask = mask_of(query) if query_mask is None else query_mask
        value_mask = mask_of(value) if value_mask is None else value_mask
        causal_only = (
            use_causal_mask
            and query_mask is None
            and value_mask is None
            and key_mask is None
            and attention_mask is None
            and self._window() is None
            and self._fused_causal()
        )
        if not causal_only:
            attention_mask = self._compute_attention_mask(
                query,
                value,
                query_mask=query_mask,
                value_mask=value_mask,
                key_mask=key_mask,
                attention_mask=attention_mask,
                use_causal_mask=use_causal_mask,
            )
        return unmasked(value), unmasked(key), attention_mask, causal_only

    def _compute_attention_mask(
        self,
        query,
        value,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
    ):
        """AND of the query mask `(B, T, 1)`, value/key masks `(B, 1, S)`, the
        causal and sliding-window masks `(1, T, S)` and `attention_mask`."""
        return combined_mask(
            query,
            value,
            query_mask,
            value_mask,
            key_mask,
            attention_mask,
            use_causal_mask,
            self._window(),
        )
