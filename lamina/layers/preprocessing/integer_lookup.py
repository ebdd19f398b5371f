"""IntegerLookup: integer tokens to vocabulary indices (or back, with invert)."""

import numpy as np
import torch

from lamina import backend
from lamina.layers.preprocessing.index_lookup import IndexLookup


class IntegerLookup(IndexLookup):
    """Maps integer tokens (ids, codes, years, ...) to contiguous indices.

    The vocabulary comes from `vocabulary=` or from `adapt(data)` (tokens by
    descending count, ties by descending token). Indices: with
    `output_mode="int"` and a `mask_token`, 0 is the mask; then the
    `num_oov_indices` OOV indices (several OOV indices are chosen by
    `token mod num_oov_indices`, or by FarmHash/SipHash of the decimal text with
    `oov_method="farmhash"`, as in Keras); then the vocabulary.

    The lookup runs as torch ops on the tensor's device (a sorted table and
    `searchsorted`), so the layer also works inside a model on int tensors.
    Python lists and NumPy arrays are moved to lamina's device first. Outputs
    are int64 (indices and `one_hot`/`multi_hot`/`count`) or float32 (`tf_idf`).

    Args:
        max_tokens: Cap on the vocabulary size, special indices included.
        num_oov_indices: How many indices OOV tokens share (0 makes them an
            error, which needs one device-to-host check). Defaults to `1`.
        mask_token: Token that means "padding" (index 0 in `"int"` mode).
            Defaults to `None`.
        oov_token: What `invert=True` returns for OOV indices. Defaults to `-1`.
        vocabulary: A list or 1-D array of ints, or a text file path.
        vocabulary_dtype: Must be `"int64"`.
        idf_weights: With `output_mode="tf_idf"` and `vocabulary`: one inverse
            document frequency per vocabulary entry.
        invert: Map indices back to tokens. Defaults to `False`.
        output_mode: `"int"`, `"one_hot"`, `"multi_hot"`, `"count"` or
            `"tf_idf"`. Defaults to `"int"`.
        sparse: Must be `False` (torch outputs here are dense).
        pad_to_max_tokens: Make encodings `max_tokens` wide. Defaults to `False`.
        oov_method: `"floormod"` or `"farmhash"`. Defaults to `"floormod"`.
        salt: With `oov_method="farmhash"`: an int or a pair of ints keying
            SipHash.

    Example:
    >>> layer = lamina.layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])
    >>> layer([[12, 1138, 42], [42, 1000, 36]]).tolist()
    [[1, 3, 4], [4, 0, 2]]
    """

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token=-1,
        vocabulary=None,
        vocabulary_dtype="int64",
        idf_weights=None,
        invert=False,
        output_mode="int",
        sparse=False,
        pad_to_max_tokens=False,
        oov_method="floormod",
        salt=None,
        name=None,
        **kwargs,
    ):
        if vocabulary_dtype != "int64":
            raise ValueError(
                "IntegerLookup supports only vocabulary_dtype='int64'; got "
                f"vocabulary_dtype={vocabulary_dtype!r}."
            )
        super().__init__(
            max_tokens=max_tokens,
            num_oov_indices=num_oov_indices,
            mask_token=mask_token,
            oov_token=oov_token,
            vocabulary=vocabulary,
            vocabulary_dtype=vocabulary_dtype,
            idf_weights=idf_weights,
            invert=invert,
            output_mode=output_mode,
            sparse=sparse,
            pad_to_max_tokens=pad_to_max_tokens,
            oov_method=oov_method,
            salt=salt,
            name=name,
            **kwargs,
        )

    def _tokens_from_array(self, array) -> list:
        return [int(v) for v in array.tolist()]

    def _host_array(self, data):
        array = super()._host_array(data)
        return self._check_integers(array)

    def _check_integers(self, array):
        if array.dtype.kind not in "iuf":
            raise TypeError(
                f"Layer '{self.name}' (IntegerLookup) expects integer tokens; got "
                f"data of dtype {array.dtype}. Use StringLookup for strings."
            )
        return array.astype(np.int64)

    def _as_tensor(self, inputs) -> torch.Tensor:
        if isinstance(inputs, torch.Tensor):
            if inputs.is_floating_point() or inputs.dtype == torch.bool:
                return inputs.to(torch.int64)
            return inputs.long()
        array = self._host_array(inputs)
        return backend.convert_to_tensor(array, dtype="int64")

    def _table(self, device):
        """Sorted vocabulary keys and their indices, cached on `device`."""
        if self._sorted_keys is None or self._sorted_keys[0].device != device:
            keys = torch.tensor(self._tokens, dtype=torch.int64, device=device)
            keys, order = torch.sort(keys)
            values = order + self._token_start_index()
            self._sorted_keys = (keys, values)
        return self._sorted_keys

    def _lookup(self, inputs):
        x = self._as_tensor(inputs)
        start = self._oov_start_index()
        if self._tokens:
            keys, values = self._table(x.device)
            pos = torch.searchsorted(keys, x.contiguous()).clamp_(max=len(keys) - 1)
            found, hits = keys[pos] == x, values[pos]
        else:
            found, hits = torch.zeros_like(x, dtype=torch.bool), x
        is_mask = None if self.mask_token is None else x == self.mask_token
        if self.num_oov_indices == 1:
            ids = torch.where(found, hits, start)
        elif self.num_oov_indices == 0:
            oov = ~found if is_mask is None else ~found & ~is_mask
            # The one check that reads the device: Keras raises here too.
            if bool(oov.any()):
                raise self._oov_error(torch.unique(x[oov]).tolist())
            ids = hits
        elif self.oov_method == "floormod":
            ids = torch.where(
                found, hits, torch.remainder(x, self.num_oov_indices) + start
            )
        else:
            from lamina.layers.preprocessing.hashing import _hash_to_bins

            bins = _hash_to_bins(x.cpu().numpy(), self.num_oov_indices, self.salt)
            hashed = torch.as_tensor(bins, device=x.device) + start
            ids = torch.where(found, hits, hashed)
        if is_mask is not None:
            ids = torch.where(is_mask, self._mask_index(), ids)
        return ids

    def _invert(self, inputs):
        x = self._as_tensor(inputs)
        table = torch.tensor(
            self.get_vocabulary() + [self.oov_token], dtype=torch.int64, device=x.device
        )
        outside = (x < 0) | (x >= len(table) - 1)
        return table[torch.where(outside, len(table) - 1, x)]

    def get_config(self):
        config = super().get_config()
        for key in ("oov_token", "mask_token"):
            if config[key] is not None:
                config[key] = int(config[key])
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config
