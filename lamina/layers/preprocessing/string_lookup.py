"""StringLookup: strings to vocabulary indices (or back, with invert=True)."""

import itertools

import numpy as np

from lamina import backend
from lamina.backend.shape_inference import inferring
from lamina.layers.preprocessing.index_lookup import IndexLookup, _to_numpy

# Marks tokens not found in the vocabulary (indices are >= -1).
_OOV = -2


class StringLookup(IndexLookup):
    """Maps strings to integer indices from a vocabulary, as Keras does.

    The vocabulary comes from `vocabulary=` or from `adapt(data)` (tokens by
    descending count, ties by descending token). Indices: with
    `output_mode="int"` and a `mask_token`, 0 is the mask; then the
    `num_oov_indices` OOV indices (several OOV indices are chosen by FarmHash
    of the token, or SipHash with `salt`, bit-identical to Keras); then the
    vocabulary.

    The layer runs on the host: strings cannot be torch tensors. It takes
    Python strings or bytes (nested lists or NumPy arrays) and returns a tensor
    on lamina's device (int64 indices; int64 `one_hot`/`multi_hot`/`count`
    encodings; float32 `tf_idf`), or nested lists of strings with
    `invert=True`. Apply it to the data before `fit` (or in a `PyDataset`):
    `fit` converts its inputs to tensors, which strings cannot be.

    Args:
        max_tokens: Cap on the vocabulary size, special indices included.
        num_oov_indices: How many indices out-of-vocabulary tokens share
            (0 makes them an error). Defaults to `1`.
        mask_token: Token that means "padding" (index 0 in `"int"` mode,
            nothing in the other modes). Defaults to `None`.
        oov_token: What `invert=True` returns for OOV indices. Defaults to
            `"[UNK]"`.
        vocabulary: A list or 1-D array of strings, or a text file path.
        idf_weights: With `output_mode="tf_idf"` and `vocabulary`: one inverse
            document frequency per vocabulary entry.
        invert: Map indices back to strings. Defaults to `False`.
        output_mode: `"int"`, `"one_hot"`, `"multi_hot"`, `"count"` or
            `"tf_idf"`. Defaults to `"int"`.
        pad_to_max_tokens: Make encodings `max_tokens` wide. Defaults to `False`.
        sparse: Must be `False` (torch outputs here are dense).
        encoding: Text encoding of bytes inputs. Defaults to `"utf-8"`.
        salt: An int or a pair of ints keying the OOV hash (SipHash).

    Example:
    >>> layer = lamina.layers.StringLookup(vocabulary=["a", "b", "c", "d"])
    >>> layer([["a", "c", "d"], ["d", "z", "b"]]).tolist()
    [[1, 3, 4], [4, 0, 2]]
    """

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token="[UNK]",
        vocabulary=None,
        idf_weights=None,
        invert=False,
        output_mode="int",
        pad_to_max_tokens=False,
        sparse=False,
        encoding="utf-8",
        name=None,
        salt=None,
        **kwargs,
    ):
        self.encoding = encoding
        super().__init__(
            max_tokens=max_tokens,
            num_oov_indices=num_oov_indices,
            mask_token=mask_token,
            oov_token=oov_token,
            vocabulary=vocabulary,
            idf_weights=idf_weights,
            invert=invert,
            output_mode=output_mode,
            pad_to_max_tokens=pad_to_max_tokens,
            sparse=sparse,
            name=name,
            salt=salt,
            vocabulary_dtype="string",
            **kwargs,
        )

    def _host_array(self, data):
        array = _to_numpy(data, self.name, "StringLookup", self.encoding)[0]
        if array.dtype != object and array.size:
            raise TypeError(
                f"Layer '{self.name}' (StringLookup) expects strings; got data of "
                f"dtype {array.dtype}. Use IntegerLookup for integer tokens."
            )
        return array

    def _tokens_from_array(self, array) -> list:
        return [
            v.decode(self.encoding) if isinstance(v, bytes) else str(v)
            for v in array.tolist()
        ]

    def _lookup(self, inputs):
        array, device = _to_numpy(inputs, self.name, "StringLookup", self.encoding)
        if array.dtype != object:
            raise TypeError(
                f"Layer '{self.name}' (StringLookup) expects strings; got data of "
                f"dtype {array.dtype}. Use IntegerLookup for integer tokens."
            )
        ids = self._lookup_tokens(array.reshape(-1).tolist()).reshape(array.shape)
        return backend.convert_to_tensor(ids, dtype="int64", device=device)

    def _lookup_tokens(self, tokens: list) -> np.ndarray:
        """int64 indices of a list of str (one C-level dict lookup each)."""
        ids = np.fromiter(
            map(self._index_of.get, tokens, itertools.repeat(_OOV)),
            dtype=np.int64,
            count=len(tokens),
        )
        oov = np.flatnonzero(ids == _OOV)
        if len(oov):
            if self.num_oov_indices == 0 and inferring():
                ids[oov] = 0  # the placeholder strings of a shape probe
            elif self.num_oov_indices == 0:
                unknown = sorted({tokens[i] for i in oov})
                raise self._oov_error(unknown)
            elif self.num_oov_indices == 1:
                ids[oov] = self._oov_start_index()
            else:
                from lamina.layers.preprocessing.hashing import _hash_to_bins

                unknown = np.array([tokens[i] for i in oov], dtype=object)
                bins = _hash_to_bins(unknown, self.num_oov_indices, self.salt)
                ids[oov] = bins + self._oov_start_index()
        return ids

    def _invert(self, inputs):
        array, _ = _to_numpy(inputs, self.name, "StringLookup")
        if array.dtype.kind not in "iu":
            raise TypeError(
                f"Layer '{self.name}' (StringLookup(invert=True)) expects integer "
                f"indices; got data of dtype {array.dtype}."
            )
        table = np.array(self.get_vocabulary() + [self.oov_token], dtype=object)
        # Indices outside the vocabulary read the trailing OOV entry.
        outside = (array < 0) | (array >= len(table) - 1)
        tokens = table[np.where(outside, len(table) - 1, array)]
        return tokens.tolist()

    def get_config(self):
        config = super().get_config()
        # Keras: strings have one vocabulary dtype, so it is not listed.
        del config["vocabulary_dtype"]
        config["encoding"] = self.encoding
        return config
