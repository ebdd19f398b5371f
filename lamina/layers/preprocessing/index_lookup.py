"""IndexLookup: the vocabulary machinery shared by StringLookup and IntegerLookup.

Also holds `_HostDataLayer`, the base of the preprocessing layers that take
Python strings: strings cannot live in torch tensors, so these layers compute on
the host (NumPy and Python) and hand back tensors on lamina's device.
"""

import collections
import itertools
import math
import os

import numpy as np
import torch

from lamina import backend
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.layer import Layer
from lamina.layers.preprocessing.category_encoding import (
    _encode_categorical,
    _encoded_shape,
    _validate_output_mode,
)

_OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class _HostDataLayer(Layer):
    """A layer whose `call` takes host data (str, bytes, numbers; nested lists,
    NumPy arrays or tensors) instead of a torch tensor.

    `__call__` skips the tensor conversion of `Layer.__call__` (which cannot hold
    strings); symbolic inputs still go through it for shape inference.
    """

    _eager_only = True  # Python lookups on host data: never traced
    # Keras marks its lookup, hashing and text layers (every subclass here).
    supports_jit = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def __call__(self, inputs, *args, **kwargs):
        # Only a single symbolic tensor is checked for: scanning a long list of
        # strings for KerasTensors would cost more than the lookup.
        if isinstance(inputs, KerasTensor):
            return super().__call__(inputs, *args, **kwargs)
        kwargs.pop("training", None)
        kwargs.pop("mask", None)
        return self.call(inputs, *args, **kwargs)


def _to_numpy(inputs, name, owner, encoding="utf-8"):
    """(NumPy array, output device) for host data; bytes become str, and an
    object array of strings is returned for text."""
    device = inputs.device if isinstance(inputs, torch.Tensor) else None
    if isinstance(inputs, torch.Tensor):
        array = inputs.detach().cpu().numpy()
    else:
        try:
            array = np.asarray(inputs)
        except ValueError as error:
            raise ValueError(
                f"Layer '{name}' ({owner}) expects a rectangular batch (equal "
                f"lengths in each dimension); got ragged data ({error}). Pad the "
                "rows to one length first."
            ) from None
    if array.dtype.kind == "S":
        array = np.char.decode(array, encoding).astype(object)
    elif array.dtype.kind == "U":
        array = array.astype(object)
    elif array.dtype.kind == "O":
        flat = [
            v.decode(encoding) if isinstance(v, bytes) else v
            for v in array.reshape(-1).tolist()
        ]
        if not all(isinstance(v, str) for v in flat):
            kinds = sorted({type(v).__name__ for v in flat})
            raise TypeError(
                f"Layer '{name}' ({owner}) expects strings or numbers; got "
                f"values of types {kinds}."
            )
        array = np.array(flat, dtype=object).reshape(array.shape)
    elif array.dtype.kind not in "iufb":
        raise TypeError(
            f"Layer '{name}' ({owner}) expects strings or numbers; got data of "
            f"dtype {array.dtype}."
        )
    return array, device if device is not None else backend.get_device()


def _normalize_salt(owner, salt):
    """Keras stores a salt as a pair of ints: `7` becomes `[7, 7]`."""
    if salt is None:
        return None
    if isinstance(salt, (tuple, list)) and len(salt) == 2:
        return list(salt)
    if isinstance(salt, int) and not isinstance(salt, bool):
        return [salt, salt]
    raise ValueError(
        f"{owner} expects `salt` to be an int or a pair of ints (it can only be a "
        f"tuple of size 2 or an int); got salt={salt!r}."
    )


def _listify(x):
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        x = x.tolist()
    return x


class IndexLookup(_HostDataLayer):
    """Maps tokens to integer indices through a vocabulary (shared base class).

    Index layout, as in Keras: with `output_mode="int"` and a `mask_token`,
    index 0 is the mask; then `num_oov_indices` out-of-vocabulary indices; then
    the vocabulary in order. `adapt` orders the vocabulary by descending count,
    ties by descending token, and keeps at most `max_tokens` entries in all.
    See `StringLookup` and `IntegerLookup` for the arguments.
    """

    def __init__(
        self,
        max_tokens,
        num_oov_indices,
        mask_token,
        oov_token,
        vocabulary_dtype,
        vocabulary=None,
        idf_weights=None,
        invert=False,
        output_mode="int",
        sparse=False,
        pad_to_max_tokens=False,
        oov_method="floormod",
        name=None,
        salt=None,
        **kwargs,
    ):
        owner = type(self).__name__
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(
                f"If set, `max_tokens` must be greater than 1. {owner} got "
                f"max_tokens={max_tokens!r}."
            )
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(
                "If pad_to_max_tokens is True, must set `max_tokens`. "
                f"{owner}(pad_to_max_tokens=True) needs `max_tokens` (the padded "
                "size); got max_tokens=None."
            )
        if num_oov_indices < 0:
            raise ValueError(
                f"{owner}: `num_oov_indices` must be greater than or equal to 0; "
                f"got num_oov_indices={num_oov_indices!r}."
            )
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(
                f"{owner} expects `oov_method` to be 'floormod' or 'farmhash'; "
                f"got oov_method={oov_method!r}."
            )
        if (
            salt is not None
            and vocabulary_dtype != "string"
            and oov_method != "farmhash"
        ):
            raise ValueError(
                f"{owner} uses `salt` only with oov_method='farmhash'; got "
                f"oov_method={oov_method!r}."
            )
        salt = _normalize_salt(owner, salt)
        if output_mode == "binary":  # Keras: deprecated spellings.
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        _validate_output_mode(owner, output_mode, _OUTPUT_MODES)
        if invert and output_mode != "int":
            raise ValueError(
                f"{owner}(invert=True) maps indices back to tokens: `output_mode` "
                f"must be `'int'` when `invert` is true; got "
                f"output_mode={output_mode!r}."
            )
        if sparse:
            in_keras = (
                " (and in Keras `sparse` may only be true if `output_mode` is "
                "`'one_hot'`, `'multi_hot'`, `'count'` or `'tf_idf'`)"
                if output_mode == "int"
                else ""
            )
            raise ValueError(
                f"{owner}(sparse=True) is not supported: lamina runs on torch, "
                f"whose outputs here are dense{in_keras}. Use sparse=False."
            )
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(
                "`idf_weights` should only be set if `output_mode` is "
                f"`'tf_idf'`. {owner} got output_mode={output_mode!r}."
            )
        frozen_vocab_size = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop(
            "has_input_vocabulary", vocabulary is not None
        )
        # Keras ignores these two here: the lookup's dtype is its vocabulary's.
        kwargs.pop("trainable", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)

        self.invert = invert
        self.max_tokens = max_tokens
        self.num_oov_indices = num_oov_indices
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.output_mode = output_mode
        self.sparse = sparse
        self.pad_to_max_tokens = pad_to_max_tokens
        self.vocabulary_dtype = vocabulary_dtype
        self.oov_method = oov_method
        self.salt = salt
        self._frozen_vocab_size = frozen_vocab_size
        # The constructor's vocabulary is what get_config() reports (Keras);
        # a file path is read now and reported as None.
        self.input_vocabulary = None if isinstance(vocabulary, str) else vocabulary
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = has_input_vocabulary
        self._sorted_keys = None  # IntegerLookup's device table, built lazily.
        self._set_tokens([])
        self.idf_weights = None
        self._idf_on_device = None
        self._reset_counts()
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise ValueError(
                f"{owner}(output_mode='tf_idf') with a `vocabulary` also needs "
                "`idf_weights` (one weight per vocabulary entry); got None."
            )
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # --- vocabulary ------------------------------------------------------------

    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """Number of indices in use: mask and OOV indices plus the vocabulary."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens=True) -> list:
        """The vocabulary; with the special tokens, entry `i` is index `i`."""
        vocab = [self.oov_token] * self._token_start_index() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        if not include_special_tokens:
            vocab = vocab[self._token_start_index() :]
        return vocab

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Replace the vocabulary (and, for `"tf_idf"`, the IDF weights).

        Args:
            vocabulary: A list, tuple, 1-D array or tensor of tokens, or the
                path of a text file with one token per line. It may start with
                the special tokens (mask, then OOV) in index order.
            idf_weights: One weight per entry of `vocabulary`; required with
                `output_mode="tf_idf"`, refused otherwise.
        """
        owner = f"Layer '{self.name}' ({type(self).__name__})"
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(
                    f"{owner} has output_mode='tf_idf', so set_vocabulary() needs "
                    "`idf_weights` (one per vocabulary entry); got None."
                )
        elif idf_weights is not None:
            raise ValueError(
                "`idf_weights` should only be set if `output_mode` is "
                f"`'tf_idf'`. {owner} has output_mode={self.output_mode!r}."
            )
        if isinstance(vocabulary, str):
            vocabulary = self._read_vocabulary_file(vocabulary, owner)
        vocabulary = np.asarray(_listify(vocabulary))
        if vocabulary.ndim != 1 or vocabulary.size == 0:
            raise ValueError(
                f"{owner} expects a non-empty 1-D vocabulary; got one of shape "
                f"{vocabulary.shape}."
            )
        tokens = self._tokens_from_array(vocabulary)
        token_start = self._token_start_index()
        special = [self.mask_token] * self._oov_start_index() + [
            self.oov_token
        ] * self.num_oov_indices
        found_special = tokens[:token_start] == special
        if found_special:
            tokens = tokens[token_start:]
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ValueError(
                "The passed vocabulary has at least one repeated term. "
                f"{owner} expects vocabulary terms to be unique; got repeated "
                f"terms {repeated}. Deduplicate the vocabulary."
            )
        for token, what in ((self.mask_token, "mask"), (self.oov_token, "OOV")):
            if token is None or token not in tokens:
                continue
            if what == "OOV" and not self.invert:
                continue  # Keras: the OOV token only matters when inverting.
            raise ValueError(
                f"Found reserved {what} token at unexpected location in "
                f"`vocabulary`. {owner} found the reserved {what} token {token!r} "
                "inside the "
                f"vocabulary (at position {tokens.index(token)}). Remove the "
                "special tokens, or put them only at the start in this order: "
                f"{special}."
            )
        if self.max_tokens is not None and token_start + len(tokens) > self.max_tokens:
            raise ValueError(
                f"{owner} has max_tokens={self.max_tokens}, but the vocabulary "
                f"would have {token_start + len(tokens)} entries (with the "
                f"{token_start} special indices). Shorten it or raise max_tokens."
            )
        self._check_frozen_size(token_start + len(tokens))
        if self.output_mode == "tf_idf":
            weights = np.asarray(_listify(idf_weights), dtype="float64")
            if weights.ndim != 1 or len(weights) != len(vocabulary):
                raise ValueError(
                    f"{owner} expects `idf_weights` to be 1-D with one weight per "
                    f"vocabulary entry ({len(vocabulary)}); got shape "
                    f"{weights.shape}."
                )
            # Without special tokens in the vocabulary, their weight is the
            # average weight (Keras); pad_to_max_tokens pads with zeros.
            front = 0 if found_special else token_start
            back = 0
            if self.pad_to_max_tokens and self.max_tokens is not None:
                back = self.max_tokens - front - len(weights)
            weights = np.pad(
                weights,
                (front, back),
                constant_values=(0 if found_special else np.average(weights), 0),
            )
            self._set_idf_weights(weights.astype(backend.floatx()))
        self._set_tokens(tokens)
        self._record_vocabulary_size()

    def _read_vocabulary_file(self, path, owner):
        if not os.path.exists(path):
            raise ValueError(f"{owner}: Vocabulary file {path} does not exist.")
        if self.output_mode == "tf_idf":
            raise ValueError(
                f"{owner}: output_mode='tf_idf' cannot load a vocabulary from a "
                "file; pass a list and `idf_weights`."
            )
        with open(path, encoding=getattr(self, "encoding", "utf-8")) as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        return lines

    def _tokens_from_array(self, array) -> list:
        """Python tokens (str or int) from a 1-D array (Keras compares as such)."""
        raise NotImplementedError

    def _set_tokens(self, tokens) -> None:
        self._tokens = list(tokens)
        start = self._token_start_index()
        self._index_of = {t: i + start for i, t in enumerate(self._tokens)}
        if self.mask_token is not None:
            # The mask is never in the vocabulary (set_vocabulary and adapt see
            # to it), so one dict lookup maps it too.
            self._index_of[self.mask_token] = self._mask_index()
        self._sorted_keys = None

    def _set_idf_weights(self, weights) -> None:
        self.idf_weights = np.asarray(weights, dtype=backend.floatx())
        self._idf_on_device = None

    def _check_frozen_size(self, size) -> None:
        """Encodings are as wide as the vocabulary: once set, it may not change
        size (unless padded to max_tokens), as in Keras."""
        if (
            self.output_mode != "int"
            and not self.pad_to_max_tokens
            and self._frozen_vocab_size is not None
            and size != self._frozen_vocab_size
        ):
            raise RuntimeError(
                f"Layer '{self.name}' ({type(self).__name__}) has output_mode="
                f"{self.output_mode!r} and pad_to_max_tokens=False, so its "
                f"vocabulary size (its output width) is fixed at "
                f"{self._frozen_vocab_size}; the new vocabulary has {size}. "
                "Create a new layer, or set pad_to_max_tokens=True."
            )

    def _record_vocabulary_size(self) -> None:
        self._check_frozen_size(self.vocabulary_size())
        self._frozen_vocab_size = self.vocabulary_size()

    # --- adapt -----------------------------------------------------------------

    def adapt(self, data, steps=None) -> None:
        """Build the vocabulary from the tokens in `data`.

        Tokens are ordered by count (descending), ties by token (descending);
        the mask and OOV tokens are left out; `max_tokens` caps the size.

        Args:
            data: A list, tuple or NumPy array (each element one document for
                `"tf_idf"`), or an iterable of batches (each batch one document
                if 1-D, one document per row if 2-D), as Keras reads it.
            steps: Stop after this many batches of an iterable.

        Raises:
            ValueError: The vocabulary was given to the constructor, or `data`
                holds no tokens.
        """
        self.reset_state()
        seen = 0
        if isinstance(data, (list, tuple, np.ndarray, torch.Tensor)) or not hasattr(
            data, "__iter__"
        ):
            rows = self._host_array(data)
            if rows.ndim == 1:
                rows = rows[:, None]
            seen += self.update_state(rows)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                seen += self.update_state(batch)
        if seen == 0:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) cannot adapt to "
                "empty data: expected at least one token to build a vocabulary "
                f"from; got {type(data).__name__} with no tokens."
            )
        self.finalize_state()

    def _host_array(self, data):
        return _to_numpy(data, self.name, type(self).__name__)[0]

    def update_state(self, data) -> int:
        """Count the tokens of one batch; returns how many it held."""
        array = self._host_array(data)
        if array.ndim == 0:
            array = array.reshape(1, 1)
        elif array.ndim == 1:
            array = array[None, :]  # A 1-D batch is one document (Keras).
        width = int(np.prod(array.shape[1:]))
        return self._update_from_rows(array.reshape(array.shape[0], width).tolist())

    def _update_from_rows(self, rows) -> int:
        """Count the tokens of `rows` (lists of Python tokens, one per document)."""
        if self._has_input_vocabulary:
            raise ValueError(
                f"Cannot adapt layer '{self.name}' ({type(self).__name__}): its "
                "vocabulary was given as the `vocabulary` argument. Create the "
                "layer without a vocabulary to learn one."
            )
        self._token_counts.update(itertools.chain.from_iterable(rows))
        if self.output_mode == "tf_idf":
            for row in rows:
                self._document_counts.update(set(row))
            self._num_documents += len(rows)
        return sum(len(row) for row in rows)

    def finalize_state(self) -> None:
        """Turn the counted tokens into the vocabulary (end of `adapt`)."""
        if self._has_input_vocabulary or not self._token_counts:
            self._record_vocabulary_size()
            return
        counts = self._token_counts
        counts.pop(self.mask_token, None)
        counts.pop(self.oov_token, None)
        # Keras: by count, ties by token, both descending.
        ordered = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        if self.max_tokens:
            ordered = ordered[: self.max_tokens - self._token_start_index()]
        tokens = [token for token, _ in ordered]
        self._check_frozen_size(self._token_start_index() + len(tokens))
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            idf = np.array(
                [
                    math.log(1 + self._num_documents / (1 + self._document_counts[t]))
                    for t in tokens
                ],
                dtype="float64",
            ).astype(backend.floatx())
            # OOV (and mask) slots get the mean weight; pad_to_max_tokens zeros.
            front = np.full(self._token_start_index(), np.mean(idf), idf.dtype)
            weights = np.concatenate([front, idf])
            if self.pad_to_max_tokens and self.max_tokens is not None:
                weights = np.pad(weights, (0, self.max_tokens - len(weights)))
            self._set_idf_weights(weights)
        self.reset_state()
        self._record_vocabulary_size()

    def reset_state(self) -> None:
        if not self._has_input_vocabulary:
            self._reset_counts()

    def _reset_counts(self) -> None:
        self._token_counts = collections.Counter()
        self._document_counts = collections.Counter()
        self._num_documents = 0

    # --- calling ---------------------------------------------------------------

    def call(self, inputs):
        if self.output_mode != "int" and not self.pad_to_max_tokens:
            if self._frozen_vocab_size is None:
                raise RuntimeError(
                    f"When using `output_mode={self.output_mode}` and "
                    f"`pad_to_max_tokens=False`, layer '{self.name}' "
                    f"({type(self).__name__}) needs its vocabulary before it is "
                    "called: pass `vocabulary=` or call adapt(data) first."
                )
        if self.invert:
            return self._invert(inputs)
        lookups = self._lookup(inputs)
        if self.output_mode == "int":
            return lookups
        return self._encode_lookups(lookups)

    def _encode_lookups(self, lookups) -> torch.Tensor:
        """The one_hot / multi_hot / count / tf_idf encoding of indices."""
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        output = _encode_categorical(lookups, mode, depth, "int64")
        if self.output_mode == "tf_idf":
            idf = self._idf_on_device
            if idf is None or idf.device != output.device:
                idf = torch.as_tensor(self.idf_weights, device=output.device)
                self._idf_on_device = idf
            output = output.to(idf.dtype) * idf
        return output

    def _lookup(self, inputs) -> torch.Tensor:
        """int64 indices (on the output device); masked tokens are 0 in "int"
        mode and -1 (encoded as nothing) in the other modes."""
        raise NotImplementedError

    def _invert(self, inputs):
        raise NotImplementedError

    def _mask_index(self) -> int:
        return 0 if self.output_mode == "int" else -1

    def _oov_error(self, oov_values):
        return ValueError(
            f"Layer '{self.name}' ({type(self).__name__}) has num_oov_indices=0, "
            "so every input must be in the vocabulary; got out-of-vocabulary "
            f"values {oov_values}. Set num_oov_indices=1 to map them to an OOV "
            "index."
        )

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        return _encoded_shape(input_shape, self.output_mode, depth)

    def compute_output_spec(self, inputs):
        if self.output_mode == "int":
            dtype = self.vocabulary_dtype if self.invert else "int64"
        else:
            dtype = "float32" if self.output_mode == "tf_idf" else "int64"
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype=dtype)

    # --- config and saving -----------------------------------------------------

    def get_config(self):
        return {
            **super().get_config(),
            "invert": self.invert,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token,
            "mask_token": self.mask_token,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary_dtype": self.vocabulary_dtype,
            "idf_weights": _listify(self.input_idf_weights),
            "vocabulary": _listify(self.input_vocabulary),
            "vocabulary_size": self._frozen_vocab_size,
            "oov_method": self.oov_method,
            "salt": self.salt,
        }

    def get_build_config(self):
        return {}

    def build_from_config(self, config):
        self.built = True

    def save_own_variables(self, store) -> None:
        """Keras writes the IDF weights (tf_idf only) under the key
        `"idf_weights"`."""
        if self.output_mode == "tf_idf":
            store["idf_weights"] = np.asarray(self.idf_weights)

    def load_own_variables(self, store) -> None:
        if self.output_mode == "tf_idf":
            self._set_idf_weights(np.asarray(store["idf_weights"]))

    def save_assets(self, dir_path) -> None:
        """Write an adapted vocabulary to `vocabulary.txt` (Keras's asset)."""
        if self.input_vocabulary is not None:
            return  # Keras: the vocabulary is in the config already.
        path = os.path.join(dir_path, "vocabulary.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(str(w) for w in self.get_vocabulary()))

    def load_assets(self, dir_path) -> None:
        if self.input_vocabulary is not None:
            return
        path = os.path.join(dir_path, "vocabulary.txt")
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        if self.vocabulary_dtype != "string":
            lines = [int(line) for line in lines]
        weights = self.idf_weights if self.output_mode == "tf_idf" else None
        self.set_vocabulary(lines, idf_weights=weights)
