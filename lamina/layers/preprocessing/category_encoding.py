"""CategoryEncoding: integer category ids to one-hot, multi-hot or count vectors.

Also holds `_encode_categorical`, the encoder that Discretization, Hashing and the
lookup layers share (Keras: `numerical_utils.encode_categorical_inputs`).
"""

import difflib
import math

import numpy as np
import torch

from lamina import backend
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.layer import Layer
from lamina.layers.preprocessing._data_layer import DataLayerBackend


def _validate_output_mode(owner: str, output_mode, allowed) -> None:
    """Raise a ValueError naming `owner`, the allowed modes and the one received."""
    if output_mode in allowed:
        return
    close = difflib.get_close_matches(str(output_mode), allowed, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"{owner}: Invalid value for argument `output_mode`. Expected one of "
        f"{', '.join(repr(m) for m in allowed)}; got output_mode={output_mode!r}."
        f"{hint}"
    )


def _encode_categorical(indices, output_mode, depth, dtype, count_weights=None):
    """Encode an integer tensor of category ids as Keras's preprocessing layers do.

    `"int"` casts; `"one_hot"` adds an axis of size `depth` (replacing a trailing
    axis of size 1); `"multi_hot"` and `"count"` reduce the sample axis to
    `depth` slots. The sample axis is axis 1, as in every Keras backend: the last
    axis of the documented rank-1/rank-2 inputs (for rank 3+ Keras's eager
    result also reduces axis 1). A rank-0 input is one sample. Ids outside
    `[0, depth)` (the lookup layers use -1 for masked tokens) encode to zeros.
    Runs as scatter kernels on the tensor's device: no host sync, and memory
    O(inputs + outputs).
    """
    torch_dtype = backend.to_torch_dtype(dtype)
    if output_mode == "int":
        return indices.to(torch_dtype)
    if indices.dim() == 0:
        indices = indices.reshape(1)
    indices = indices.long()
    if output_mode == "one_hot" and indices.dim() > 1 and indices.shape[-1] == 1:
        indices = indices.squeeze(-1)
    # Out-of-range ids scatter a 0 into slot 0, so they add nothing.
    valid = (indices >= 0) & (indices < depth)
    slots = indices * valid
    if output_mode == "one_hot":
        out = torch.zeros((*slots.shape, depth), dtype=torch_dtype, device=slots.device)
        return out.scatter_(
            -1, slots.unsqueeze(-1), valid.unsqueeze(-1).to(torch_dtype)
        )
    # multi_hot / count: axis 1 (axis 0 of a rank-1 input) holds a sample's ids.
    if count_weights is None:
        weights = valid.to(torch_dtype)
    else:
        torch_dtype = count_weights.dtype
        weights = count_weights.reshape(slots.shape) * valid
    if slots.dim() > 2:
        slots, weights = slots.movedim(1, -1), weights.movedim(1, -1)
    lead = slots.shape[:-1]
    slots = slots.reshape(math.prod(lead), slots.shape[-1])
    weights = weights.reshape(slots.shape)
    out = torch.zeros((slots.shape[0], depth), dtype=torch_dtype, device=slots.device)
    if output_mode == "multi_hot":
        out.scatter_reduce_(1, slots, weights, reduce="amax")
    else:
        out.scatter_add_(1, slots, weights)
    return out.reshape(*lead, depth)


def _encoded_shape(input_shape, output_mode, depth):
    """Output shape of `_encode_categorical` for an input of `input_shape`."""
    input_shape = tuple(input_shape)
    if output_mode == "int":
        return input_shape
    if len(input_shape) == 0:
        return (depth,)
    if output_mode == "one_hot":
        if len(input_shape) > 1 and input_shape[-1] == 1:
            return input_shape[:-1] + (depth,)
        return input_shape + (depth,)
    if len(input_shape) == 1:
        return (depth,)
    return input_shape[:1] + input_shape[2:] + (depth,)


class CategoryEncoding(DataLayerBackend, Layer):
    """Encodes integer category ids (`0 <= id < num_tokens`) as dense vectors.

    Args:
        num_tokens: Number of categories: the size of the output's last axis.
        output_mode: `"one_hot"` (one vector per id; a trailing axis of size 1
            is replaced), `"multi_hot"` (one vector per sample, 1 where an id
            occurs; the last axis is the sample) or `"count"` (as multi-hot, but
            how often each id occurs, optionally weighted by `count_weights`).
            Defaults to `"multi_hot"`.
        sparse: Must be `False`: torch sparse outputs are not supported.

    Call arguments:
        inputs: Integer ids, rank 0 to 2 (a list, NumPy array or tensor).
        count_weights: Same shape as `inputs`; weights summed in `"count"` mode.

    Input shape `(batch, samples)` or `(batch,)`; output `(batch, num_tokens)`.
    Ids from NumPy or lists are checked against `[0, num_tokens)`; ids already
    in a tensor are not checked (that would synchronize the device), and ids out
    of range there encode to zeros.

    Example:
    >>> layer = lamina.layers.CategoryEncoding(num_tokens=4, output_mode="count")
    >>> layer([[0, 1, 1], [3, 3, 2]]).tolist()
    [[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 1.0, 2.0]]
    """

    def __init__(
        self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs
    ):
        super().__init__(**kwargs)
        if output_mode == "binary":  # Keras: deprecated name of multi_hot.
            output_mode = "multi_hot"
        _validate_output_mode(
            "CategoryEncoding", output_mode, ("one_hot", "multi_hot", "count")
        )
        if (
            isinstance(num_tokens, bool)
            or not isinstance(num_tokens, (int, np.integer))
            or num_tokens < 1
        ):
            what = (
                "num_tokens must be set to use this layer"
                if num_tokens is None
                else "`num_tokens` must be >= 1"
            )
            raise ValueError(
                f"CategoryEncoding: {what}; it is a positive int (the number of "
                f"categories); got num_tokens={num_tokens!r}. If the categories "
                "are not known in advance, use IntegerLookup instead."
            )
        if sparse:
            raise ValueError(
                "CategoryEncoding(sparse=True) is not supported: lamina runs on "
                "torch, whose outputs here are dense. Use sparse=False."
            )
        self.num_tokens = int(num_tokens)
        self.output_mode = output_mode
        self.sparse = sparse
        self.built = True

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, (torch.Tensor, KerasTensor)):
            inputs = self._checked_ids(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, count_weights=None):
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError(
                    f"Layer '{self.name}' (CategoryEncoding): `count_weights` is "
                    "not used when `output_mode` is not 'count' (it applies only "
                    f"when output_mode='count'); got output_mode={self.output_mode!r}"
                    ". Drop count_weights or use 'count'."
                )
            count_weights = backend.convert_to_tensor(
                count_weights, dtype=self.compute_dtype, device=inputs.device
            )
        return _encode_categorical(
            inputs, self.output_mode, self.num_tokens, self.compute_dtype, count_weights
        )

    def _checked_ids(self, inputs):
        array = np.asarray(inputs)
        if array.dtype.kind not in "iubf":
            raise TypeError(
                f"Layer '{self.name}' (CategoryEncoding) expects integer ids; got "
                f"data of dtype {array.dtype}. Map strings to ids first with "
                "StringLookup."
            )
        if array.size and (array.min() < 0 or array.max() >= self.num_tokens):
            raise ValueError(
                f"Layer '{self.name}' (CategoryEncoding) expects ids in "
                f"[0, {self.num_tokens}); got values from {array.min()} to "
                f"{array.max()}. Raise num_tokens or map the values to ids first "
                "(IntegerLookup does that)."
            )
        return backend.convert_to_tensor(array.astype(np.int64))

    def compute_output_shape(self, input_shape):
        return _encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        return {
            **super().get_config(),
            "num_tokens": self.num_tokens,
            "output_mode": self.output_mode,
        }
