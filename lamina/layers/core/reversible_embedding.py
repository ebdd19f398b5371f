"""ReversibleEmbedding: an Embedding that can also map vectors back to logits."""

import torch

from lamina import backend
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers._layer_calls import _CALL_CONTEXT, _set_mask
from lamina.layers.core import _quantized_reversible
from lamina.layers.core.embedding import Embedding


class ReversibleEmbedding(Embedding):
    """An `Embedding` whose matrix also projects hidden vectors back onto the
    vocabulary, as the output layer of a language model.

    `layer(ids)` looks up vectors as `Embedding` does. `layer(hidden,
    reverse=True)` returns `hidden @ embeddings.T` (with `tie_weights=True`)
    or `hidden @ reverse_embeddings`: logits of shape `(..., input_dim)`.

    Args:
        input_dim: Vocabulary size, a positive int.
        output_dim: Size of each vector, a positive int.
        tie_weights: Reuse the transposed `embeddings` for the reverse
            projection. With `False` a separate `reverse_embeddings`
            `(output_dim, input_dim)` weight is learned. Defaults to `True`.
        embeddings_initializer, embeddings_regularizer, embeddings_constraint,
        mask_zero: As in `Embedding`.
        reverse_dtype: Dtype name the reverse projection computes in (e.g.
            `"float32"` under a mixed policy). Defaults to `None` (the compute
            dtype).
        logit_soft_cap: If set, reverse logits become
            `tanh(logits / cap) * cap`. Defaults to `None`.

    Example:
    >>> layer = ReversibleEmbedding(10, 4)
    >>> hidden = layer(np.array([[1, 2, 3]]))
    >>> tuple(hidden.shape), tuple(layer(hidden, reverse=True).shape)
    ((1, 3, 4), (1, 3, 10))
    """

    # What Keras saves (no reverse_embeddings when tie_weights).
    _keras_saved_variables = ("embeddings", "reverse_embeddings")

    def __init__(
        self,
        input_dim,
        output_dim,
        tie_weights=True,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        reverse_dtype=None,
        logit_soft_cap=None,
        **kwargs,
    ):
        super().__init__(
            input_dim,
            output_dim,
            embeddings_initializer=embeddings_initializer,
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
            mask_zero=mask_zero,
            **kwargs,
        )
        if logit_soft_cap is not None and (
            isinstance(logit_soft_cap, bool)
            or not isinstance(logit_soft_cap, (int, float))
            or logit_soft_cap <= 0
        ):
            raise ValueError(
                "ReversibleEmbedding expects `logit_soft_cap` to be None or a "
                f"positive number; got logit_soft_cap={logit_soft_cap!r}."
            )
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = (
            None if reverse_dtype is None else backend.standardize_dtype(reverse_dtype)
        )
        self.logit_soft_cap = logit_soft_cap

    def build(self, input_shape=None):
        if self.built:
            return
        super().build(input_shape)
        if self.dtype_policy.quantization_mode is not None:
            # A quantized model loading: the reverse side's variables too.
            _quantized_reversible.build(self, self.quantization_config)
        elif not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                shape=(self.output_dim, self.input_dim),
                initializer=self.embeddings_initializer,
                name="reverse_embeddings",
                trainable=True,
            )

    def call(self, inputs, reverse=False):
        if not reverse:
            outputs = super().call(inputs)
            # Keras: the mask rides on the lookup's output only, never on logits.
            if self.mask_zero:
                _set_mask(outputs, inputs != 0)
            return outputs
        if not inputs.is_floating_point():
            inputs = inputs.to(self._compute_torch_dtype)
        if self.tie_weights:
            kernel = self.embeddings.T
        else:
            kernel = self.reverse_embeddings
        if self._mixed and _CALL_CONTEXT.autocast is None:
            # Keras reads a mixed layer's kernel in the compute dtype unless an
            # enclosing layer's autocast region is open (a mixed model): on its
            # own or inside a float32 model it is cast, inside a mixed model it
            # stays in the variable dtype (Embedding opts out of the region).
            kernel = kernel.to(self._compute_torch_dtype)
        if self.reverse_dtype is not None:
            dtype = backend.to_torch_dtype(self.reverse_dtype)
        else:  # Keras's matmul promotes: float32 hidden states, float32 logits
            dtype = torch.promote_types(inputs.dtype, kernel.dtype)
        inputs, kernel = inputs.to(dtype), kernel.to(dtype)
        device_type = inputs.device.type
        if torch.is_autocast_enabled(device_type):
            # In `dtype`, as Keras computes it, not in the autocast region's.
            with torch.autocast(device_type, enabled=False):
                logits = torch.matmul(inputs, kernel)
        else:
            logits = torch.matmul(inputs, kernel)
        if self.logit_soft_cap is not None:
            cap = self.logit_soft_cap
            logits = torch.tanh(logits / cap) * cap
        return logits

    def quantized_build(self, embeddings_shape, mode, config=None):
        """`Embedding.quantized_build`, plus the quantized `reverse_embeddings`
        and its scale when `tie_weights=False`."""
        self._quantized_build(embeddings_shape, mode, config)
        _quantized_reversible._build_reverse(self, mode, config)

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize the table and the reverse projection as Keras does.

        The lookup is quantized as `Embedding.quantize` does it. With
        `tie_weights=False` the separate `reverse_embeddings` is quantized
        too, reduced along `output_dim` (int4: per vocabulary column, or per
        group of `block_size` rows with a `reverse_embeddings_zero`). Reverse
        calls quantize the hidden vectors with the config's activation
        quantizer (`AbsMaxQuantizer(axis=-1)` without a config).

        Args:
            mode: `"int8"` or `"int4"`; may be left out when `config` is given.
            type_check: Refuse subclasses of ReversibleEmbedding. Defaults to
                `True`.
            config: An `Int8QuantizationConfig` or `Int4QuantizationConfig`.
                Defaults to `None` (Keras's defaults for the mode).

        Raises:
            ValueError: if the layer is not built or already quantized.
            NotImplementedError: for other modes.
        """
        _quantized_reversible.quantize(self, mode, type_check, config)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*input_shape[:-1], self.input_dim)
        return (*input_shape, self.output_dim)

    def compute_output_spec(self, inputs, reverse=False):
        dtype = self.compute_dtype
        if reverse and self.reverse_dtype is not None:
            dtype = self.reverse_dtype
        return KerasTensor(
            self.compute_output_shape(tuple(inputs.shape), reverse), dtype=dtype
        )

    def get_config(self):
        return {
            **super().get_config(),
            "tie_weights": self.tie_weights,
            "reverse_dtype": self.reverse_dtype,
            "logit_soft_cap": self.logit_soft_cap,
        }
