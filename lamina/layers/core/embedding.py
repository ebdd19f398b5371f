"""Embedding: look up a learned vector for each integer index."""

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from lamina import constraints, initializers, regularizers
from lamina.layers.core import _lora, _quantized
from lamina.layers.layer import Layer


class Embedding(Layer):
    """Maps integer indices in `[0, input_dim)` to rows of a learned
    `(input_dim, output_dim)` matrix named `embeddings`.

    Args:
        input_dim: Vocabulary size (largest index + 1), a positive int.
        output_dim: Size of each vector, a positive int.
        embeddings_initializer: Defaults to `"uniform"` (U(-0.05, 0.05)).
        embeddings_regularizer: Penalty on the matrix added to the loss.
        embeddings_constraint: Projection applied after each optimizer update.
        mask_zero: If `True`, index 0 is padding: the output carries the mask
            `inputs != 0` for the layers after it (RNNs, attention, pooling).
            Index 0 is then not part of the vocabulary (`input_dim` = vocabulary
            size + 1).
        weights: Optional initial matrix `(input_dim, output_dim)` (or a list
            holding it); the layer is built at once.
        lora_rank: If set, LoRA is enabled when the layer is built (see
            `enable_lora`). Defaults to `None`.
        lora_alpha: Scale of the LoRA update, which is multiplied by
            `lora_alpha / lora_rank`. Defaults to `None` (`lora_rank`).
        quantization_config: The `lamina.quantizers.QuantizationConfig` of a
            quantized layer (set by `quantize()`). Defaults to `None`.

    Input shape `(batch, ...)` of ints (floats are truncated to ints, as in
    Keras); output shape `(batch, ..., output_dim)` in the compute dtype.

    Indices must lie in `[0, input_dim)`. Checking them would cost a device to
    host sync every step, so lamina does not: on the CPU torch raises an
    IndexError (re-raised here naming the layer); on a GPU the kernel fails with
    a device-side assert that surfaces at a later sync. Unlike Keras's PyTorch
    backend, negative indices are not wrapped around; they are out of range.

    Example:
    >>> layer = lamina.layers.Embedding(10, 4, mask_zero=True)
    >>> out = layer(np.array([[1, 2, 0]]))
    >>> tuple(out.shape), out._keras_mask.tolist()
    ((1, 3, 4), [[True, True, False]])
    """

    _keras_saved_variables = ("embeddings",)  # what Keras saves
    # Setting a quantized policy on the built layer quantizes it (Keras).

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        weights=None,
        lora_rank=None,
        lora_alpha=None,
        quantization_config=None,
        **kwargs,
    ):
        input_length = kwargs.pop("input_length", None)
        if input_length is not None:
            warnings.warn(
                "Embedding: the argument `input_length` is not used in Keras 3 and "
                "is ignored; remove it (the sequence length comes from the data).",
                stacklevel=2,
            )
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or value <= 0
            ):
                raise ValueError(
                    f"Embedding: `{arg}` must be a positive integer; got "
                    f"{arg}={value!r}. For a 10,000-word vocabulary embedded in "
                    "64 dimensions write Embedding(10000, 64)."
                )
        self.lora_rank = _lora.check_rank(self, lora_rank)
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False
        self.quantization_config = _quantized.config_from_arg(quantization_config)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        # Keras: indices are never cast to the float compute dtype.
        self.autocast = False
        if weights is not None:
            self.build()
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def build(self, input_shape=None):
        if self.built:
            return
        if self.dtype_policy.quantization_mode is not None:
            # A quantized model loading: quantized variables straight away.
            _quantized.build_embedding(self, self.quantization_config)
        else:
            self.embeddings = self.add_weight(
                shape=(self.input_dim, self.output_dim),
                initializer=self.embeddings_initializer,
                name="embeddings",
                regularizer=self.embeddings_regularizer,
                constraint=self.embeddings_constraint,
                trainable=True,
            )
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)

    @property
    def _embeddings(self):
        # Keras keeps the stored table as `_embeddings` (its `embeddings`
        # property adds LoRA's update), and code written for Keras reads it.
        return self.embeddings

    def call(self, inputs):
        if inputs.dtype not in (torch.int32, torch.int64):
            inputs = inputs.to(torch.int32)
        try:
            outputs = F.embedding(
                _lora.wrap_negative_ids(inputs, self.input_dim), self.embeddings
            )
        except IndexError as error:
            self._raise_out_of_range(inputs, error)
        if outputs.dtype != self._compute_torch_dtype:
            outputs = outputs.to(self._compute_torch_dtype)
        return outputs

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return inputs != 0

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def enable_lora(
        self,
        rank: int,
        lora_alpha=None,
        a_initializer="he_uniform",
        b_initializer="zeros",
    ):
        """Fine-tune with LoRA: freeze `embeddings` and train a low-rank update.

        Adds the float32 weights `lora_embeddings_a` `(input_dim, rank)` and
        `lora_embeddings_b` `(rank, output_dim)`; the layer then looks rows up
        in `embeddings + (lora_alpha / rank) * lora_embeddings_a @
        lora_embeddings_b`. Saving writes that merged matrix in the matrix's
        place; loading assigns it and zeroes both LoRA weights. Unlike Keras,
        `layer.embeddings` stays the frozen base variable.

        Args:
            rank: Rank of the update, a positive int.
            lora_alpha: Scale numerator. Defaults to `None` (`rank`).
            a_initializer: Initializer of `lora_embeddings_a`. Defaults to
                `"he_uniform"`.
            b_initializer: Initializer of `lora_embeddings_b`. Defaults to
                `"zeros"` (the outputs do not change at first).

        Raises:
            ValueError: if the layer has an `embeddings_constraint`, is not
                built, or has LoRA enabled already.
            NotImplementedError: on a subclass that overrides `call`.
        """
        _lora.enable(self, rank, lora_alpha, a_initializer, b_initializer)

    def quantize(self, mode=None, type_check=True, config=None):
        """Replace the float matrix with quantized `embeddings` and float
        `embeddings_scale`, as Keras does: `"int8"` (one scale per row) or
        `"int4"` (two values per byte along `output_dim`; per row, or per row
        and group of `block_size` columns with an `embeddings_zero`).

        Args:
            mode: `"int8"` or `"int4"`; may be left out when `config` is given.
            type_check: Refuse subclasses of Embedding. Defaults to `True`.
            config: An `Int8QuantizationConfig` or `Int4QuantizationConfig`.
                Defaults to `None` (Keras's defaults for the mode).

        Raises:
            ValueError: if the layer is not built or already quantized.
            NotImplementedError: for `"float8"` (as in Keras) and the GPTQ
                and AWQ modes.
        """
        _quantized.quantize_embedding(self, mode, type_check, config)

    def quantized_build(self, embeddings_shape, mode, config=None):
        """Create the quantized variables of `mode` in place of the float
        `embeddings` (what `build` does under a quantized dtype policy).

        Args:
            embeddings_shape: `(input_dim, output_dim)`.
            mode: `"int8"` or `"int4"`.
            config: An `Int8QuantizationConfig` or `Int4QuantizationConfig`.
                Defaults to `None` (the details the layer's policy gives,
                else Keras's: int4 per row).

        Raises:
            NotImplementedError: for any other mode.
        """
        self._quantized_build(embeddings_shape, mode, config)

    def _quantized_build(self, embeddings_shape, mode, config):
        # `quantized_build` (ReversibleEmbedding's adds the reverse side).
        modes = _quantized._EMBEDDING_MODES
        if mode not in modes:  # first, as in Keras
            raise _quantized.unsupported_mode_error(self, mode, modes)
        if embeddings_shape is not None and tuple(embeddings_shape) != (
            self.input_dim,
            self.output_dim,
        ):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}): quantized_build "
                f"expects embeddings_shape=({self.input_dim}, {self.output_dim}) "
                f"(input_dim, output_dim); got {tuple(embeddings_shape)}."
            )
        _quantized.quantized_build(
            self,
            _quantized.build_embedding,
            (),
            mode,
            config,
            modes,
        )

    def _raise_out_of_range(self, inputs, error):
        # Only on the failure path: reading the range syncs, which is fine here.
        low, high = int(inputs.min()), int(inputs.max())
        raise IndexError(
            f"Layer '{self.name}' (Embedding) got indices from {low} to {high}, but "
            f"it has input_dim={self.input_dim} rows, so indices must lie in "
            f"[0, {self.input_dim - 1}] (or [{-self.input_dim}, -1], counting from "
            "the end, as in Keras). Create the layer with a larger input_dim "
            "(vocabulary size + 1 with mask_zero=True) or fix the indices."
        ) from error

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(
                self.embeddings_initializer
            ),
            "embeddings_regularizer": regularizers.serialize(
                self.embeddings_regularizer
            ),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            "quantization_config": _quantized.serialize_config(
                self.quantization_config
            ),
            **_lora.config(self),
        }
