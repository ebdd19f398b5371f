"""TextVectorization: raw strings to token indices or bag-of-words vectors."""

import itertools
import re
import string

import numpy as np
import torch

from lamina import backend
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.preprocessing.category_encoding import _validate_output_mode
from lamina.layers.preprocessing.index_lookup import (
    _OUTPUT_MODES,
    _HostDataLayer,
    _listify,
    _to_numpy,
)
from lamina.layers.preprocessing.string_lookup import StringLookup

# TensorFlow's string ops, which Keras uses, are ASCII-only: `lower` changes
# A-Z only, punctuation is ASCII punctuation, whitespace is " \t\n\v\f\r".
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_STRIP = str.maketrans("", "", string.punctuation)
_LOWER_AND_STRIP = {**_LOWER, **_STRIP}
_TRANSLATIONS = {
    "lower": _LOWER,
    "strip_punctuation": _STRIP,
    "lower_and_strip_punctuation": _LOWER_AND_STRIP,
}
_TOKEN = re.compile(r"[^ \t\n\v\f\r]+")
# Characters that Python's str.split() treats as whitespace but TensorFlow does
# not; texts without them take the (3x faster) str.split() path.
_NON_TF_SPACE = re.compile(
    "[\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


class TextVectorization(_HostDataLayer):
    """Turns strings into token indices (`"int"`) or one vector per string.

    Each string is standardized (lower-cased and stripped of punctuation by
    default), split into tokens (on whitespace by default), optionally joined
    into n-grams, then looked up in a vocabulary learned by `adapt(texts)` or
    given as `vocabulary=`. Index 0 is padding (the empty string), 1 is the
    OOV token `"[UNK]"` in `"int"` mode; vocabularies, indices and encodings
    equal Keras's.

    The layer runs on the host, since strings cannot be torch tensors: it takes
    a list or NumPy array of strings (shape `(batch,)` or `(batch, 1)`) and
    returns a tensor on lamina's device. `fit` converts its inputs to tensors,
    which strings cannot be, so vectorize the texts first (or in a `PyDataset`)
    and train on the result, as Keras users do outside TensorFlow:

        vectorizer.adapt(train_texts)
        model.fit(vectorizer(train_texts), labels)

    Args:
        max_tokens: Cap on the vocabulary size, padding and OOV included.
        standardize: `"lower_and_strip_punctuation"`, `"lower"`,
            `"strip_punctuation"`, `None`, or a callable taking a NumPy array
            of str and returning one (as Keras passes it on non-TF backends).
        split: `"whitespace"`, `"character"`, `None` (each string is one
            token), or a callable taking a 1-D NumPy array of str and returning
            one sequence of tokens per string.
        ngrams: An int `n` (all n-grams up to `n`) or a tuple of widths.
        output_mode: `"int"` (int64 indices, padded with 0), `"multi_hot"`,
            `"count"`, `"tf_idf"`, or `"one_hot"` (a vector per string with
            `split=None`; with a split, `(batch, tokens, depth)`: a vector per
            token, rows of zeros for the padding). Defaults to `"int"`.
        output_sequence_length: In `"int"` mode, pad or cut every output to
            this length. Defaults to `None` (the longest in the batch).
        pad_to_max_tokens: Make encodings `max_tokens` wide.
        vocabulary: A list of tokens or a text file path.
        idf_weights: With `output_mode="tf_idf"` and `vocabulary`.
        sparse: Must be `False`. ragged: Must be `False` (torch tensors here
            are dense and rectangular).
        encoding: Text encoding of bytes inputs. Defaults to `"utf-8"`.

    Example:
    >>> layer = lamina.layers.TextVectorization(
    ...     vocabulary=["earth", "wind", "and", "fire"], output_sequence_length=4)
    >>> layer(["Earth, wind and FIRE!", "wind and rain"]).tolist()
    [[2, 3, 4, 5], [3, 4, 1, 0]]
    """

    def __init__(
        self,
        max_tokens=None,
        standardize="lower_and_strip_punctuation",
        split="whitespace",
        ngrams=None,
        output_mode="int",
        output_sequence_length=None,
        pad_to_max_tokens=False,
        vocabulary=None,
        idf_weights=None,
        sparse=False,
        ragged=False,
        encoding="utf-8",
        name=None,
        **kwargs,
    ):
        if sparse or ragged:
            raise ValueError(
                "TextVectorization(sparse=True) and (ragged=True) are not "
                "supported: lamina runs on torch, whose tensors here are dense "
                f"and rectangular; got sparse={sparse!r}, ragged={ragged!r}."
            )
        _check_option("standardize", standardize, tuple(_TRANSLATIONS))
        _check_option("split", split, ("whitespace", "character"))
        if output_mode == "binary":  # Keras: deprecated spellings.
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        _validate_output_mode("TextVectorization", output_mode, _OUTPUT_MODES)
        if not (
            ngrams is None
            or isinstance(ngrams, int)
            or isinstance(ngrams, tuple)
            and all(isinstance(n, int) for n in ngrams)
        ):
            raise ValueError(
                "TextVectorization expects `ngrams` to be None, an int or a tuple "
                f"of ints; got ngrams={ngrams!r}."
            )
        if output_mode == "int" and not (
            output_sequence_length is None or isinstance(output_sequence_length, int)
        ):
            raise ValueError(
                "TextVectorization expects `output_sequence_length` to be None or "
                f"an int; got output_sequence_length={output_sequence_length!r}."
            )
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(
                "TextVectorization uses `output_sequence_length` only with "
                "output_mode='int': `output_sequence_length` must not be set if "
                f"`output_mode` is not 'int'; got output_mode={output_mode!r} and "
                f"output_sequence_length={output_sequence_length!r}."
            )
        has_input_vocabulary = kwargs.pop(
            "has_input_vocabulary", vocabulary is not None
        )
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        super().__init__(name=name, **kwargs)
        self._max_tokens = max_tokens
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = (
            tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        )
        self._ragged = ragged
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding
        self._has_input_vocabulary = has_input_vocabulary
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens,
            vocabulary=vocabulary,
            idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens,
            mask_token="",
            output_mode=output_mode,
            has_input_vocabulary=has_input_vocabulary,
            encoding=encoding,
            vocabulary_size=vocabulary_size,
        )

    # --- vocabulary ------------------------------------------------------------

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the vocabulary (and IDF weights) from texts.

        Args:
            data: A list, tuple or NumPy array of strings, or an iterable of
                such batches (a generator).
            batch_size: Unused; accepted as Keras does.
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
            array = self._strings(data)
            if array.ndim == 1:
                array = array[:, None]
            seen += self.update_state(array)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                seen += self.update_state(batch)
        if seen == 0:
            raise ValueError(
                f"Layer '{self.name}' (TextVectorization) cannot adapt to empty "
                "data: expected texts with at least one token; got "
                f"{type(data).__name__} with no tokens."
            )
        self.finalize_state()

    def update_state(self, data) -> int:
        """Count the tokens of one batch of texts; returns how many it held."""
        tokens, ragged = self._preprocess(data)
        if not ragged:
            if tokens.ndim == 0:
                tokens = tokens.reshape(1, 1)
            elif tokens.ndim == 1:
                tokens = tokens[None, :]  # A 1-D batch is one document (Keras).
            tokens = tokens.reshape(tokens.shape[0], -1).tolist()
        return self._lookup_layer._update_from_rows(tokens)

    def finalize_state(self) -> None:
        self._lookup_layer.finalize_state()

    def reset_state(self) -> None:
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens=True) -> list:
        """The vocabulary; with the special tokens, entry `i` is index `i`."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Replace the vocabulary (and IDF weights); see `StringLookup`."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # --- preprocessing ---------------------------------------------------------

    def _strings(self, data):
        array = _to_numpy(data, self.name, "TextVectorization", self._encoding)[0]
        if array.dtype != object:
            if array.size:
                raise TypeError(
                    f"Layer '{self.name}' (TextVectorization) expects strings; got "
                    f"data of dtype {array.dtype}."
                )
            array = array.astype(object)  # `[]` reads as an empty float array.
        return array

    def _preprocess(self, data):
        """(tokens, ragged): a list of token lists (one per string) when
        splitting, else an object array of (standardized) strings."""
        array = self._strings(data)
        # 1. Standardize.
        if callable(self._standardize):
            result = self._standardize(array.astype(str))
            array = np.asarray(_listify(result), dtype=object).reshape(array.shape)
        elif self._standardize is not None:
            table = _TRANSLATIONS[self._standardize]
            flat = [s.translate(table) for s in array.reshape(-1).tolist()]
            array = np.array(flat, dtype=object).reshape(array.shape)
        if self._split is None:
            return (self._dense_ngrams(array) if self._ngrams else array), False
        # 2. Split (a trailing axis of size 1 is squeezed, as in Keras).
        if array.ndim > 1:
            if array.shape[-1] != 1:
                raise ValueError(
                    f"Layer '{self.name}' (TextVectorization) splits strings, so "
                    "it expects inputs of shape (batch,) or (batch, 1); got "
                    f"shape {array.shape}."
                )
            array = array.squeeze(-1)
        texts = array.reshape(-1).tolist()
        if self._split == "whitespace":
            rows = [
                _TOKEN.findall(text) if _NON_TF_SPACE.search(text) else text.split()
                for text in texts
            ]
        elif self._split == "character":
            rows = [list(text) for text in texts]
        else:
            result = self._split(array.reshape(-1).astype(str))
            rows = [[str(t) for t in _listify(row)] for row in result]
        # 3. N-grams.
        if self._ngrams:
            rows = [_ngrams(row, self._ngrams) for row in rows]
        if array.ndim == 0:
            return np.array(rows[0], dtype=object), False
        return rows, True

    def _dense_ngrams(self, array):
        if array.ndim == 0:
            return array
        lead = array.shape[:-1]
        flat = array.reshape(-1, array.shape[-1]).tolist()
        rows = [_ngrams(row, self._ngrams) for row in flat]
        width = len(rows[0]) if rows else 0
        return np.array(rows, dtype=object).reshape(*lead, width)

    # --- calling ---------------------------------------------------------------

    def build(self, input_shape=None):
        # Keras: no weights to create, so no shape is needed (`build()`).
        if not self._lookup_layer.built:
            self._lookup_layer.build(input_shape)
        self.built = True

    def call(self, inputs):
        lookup = self._lookup_layer
        if lookup.output_mode != "int" and not lookup.pad_to_max_tokens:
            if lookup._frozen_vocab_size is None:
                raise RuntimeError(
                    f"When using `output_mode={self._output_mode}` and "
                    f"`pad_to_max_tokens=False`, layer '{self.name}' "
                    "(TextVectorization) needs its vocabulary before it is "
                    "called: pass `vocabulary=` or call adapt(texts) first."
                )
        tokens, ragged = self._preprocess(inputs)
        if ragged:
            ids = self._padded_ids(tokens)
        else:
            ids = lookup._lookup_tokens(tokens.reshape(-1).tolist())
            ids = ids.reshape(tokens.shape)
            if self._output_mode == "int" and self._output_sequence_length is not None:
                ids = _fit_last_axis(ids, self._output_sequence_length)
        ids = torch.as_tensor(ids, device=backend.get_device())
        if self._output_mode == "int":
            return ids
        if ragged and self._output_mode == "one_hot":
            # One vector per token, (batch, tokens, depth), as Keras encodes a
            # token list; the -1 padding encodes as rows of zeros.
            ids = ids.unsqueeze(-1)
        return lookup._encode_lookups(ids)

    def _padded_ids(self, rows):
        """Indices of token rows in a rectangle padded with 0 (the padding index)
        or, when encoding, with -1 (which encodes to nothing)."""
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        width = int(lengths.max(initial=0))
        if self._output_mode == "int" and self._output_sequence_length is not None:
            width = self._output_sequence_length
        elif self._output_mode != "int":
            width = max(width, 1)  # A batch of empty texts still encodes.
        pad = 0 if self._output_mode == "int" else -1
        ids = np.full((len(rows), width), pad, dtype=np.int64)
        flat = self._lookup_layer._lookup_tokens(list(itertools.chain(*rows)))
        # Row and column of every token; tokens past `width` are cut.
        row_of = np.repeat(np.arange(len(rows)), lengths)
        col_of = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        keep = col_of < width
        ids[row_of[keep], col_of[keep]] = flat[keep]
        return ids

    def compute_output_shape(self, input_shape):
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        input_shape = tuple(input_shape)
        if self._split is None:
            if len(input_shape) <= 1:
                input_shape = input_shape + (1,)
        else:
            # A trailing axis of size 1 is squeezed before splitting (as call
            # does; Keras's own shape function keeps it).
            if len(input_shape) > 1 and input_shape[-1] == 1:
                input_shape = input_shape[:-1]
            input_shape = input_shape + (None,)
        return self._lookup_layer.compute_output_shape(input_shape)

    def compute_output_spec(self, inputs):
        dtype = "int64" if self._output_mode == "int" else backend.floatx()
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype=dtype)

    # --- config and saving -----------------------------------------------------

    def get_config(self):
        lookup = self._lookup_layer
        return {
            **super().get_config(),
            "max_tokens": lookup.max_tokens,
            "standardize": self._standardize,
            "split": self._split,
            "ngrams": self._ngrams_arg,
            "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": lookup.pad_to_max_tokens,
            "sparse": lookup.sparse,
            "ragged": self._ragged,
            "vocabulary": _listify(lookup.input_vocabulary),
            "idf_weights": _listify(lookup.input_idf_weights),
            "encoding": self._encoding,
            "vocabulary_size": self.vocabulary_size(),
        }

    @classmethod
    def from_config(cls, config):
        from lamina.saving.serialization_lib import deserialize_keras_object

        config = dict(config)
        for key in ("standardize", "split"):
            if isinstance(config.get(key), dict):
                config[key] = deserialize_keras_object(config[key])
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)

    def save_own_variables(self, store) -> None:
        self._lookup_layer.save_own_variables(store)

    def load_own_variables(self, store) -> None:
        self._lookup_layer.load_own_variables(store)

    def save_assets(self, dir_path) -> None:
        self._lookup_layer.save_assets(dir_path)

    def load_assets(self, dir_path) -> None:
        self._lookup_layer.load_assets(dir_path)


def _check_option(arg, value, allowed):
    if value is None or callable(value) or value in allowed:
        return
    raise ValueError(
        f"TextVectorization expects `{arg}` to be None, a callable, or one of "
        f"{', '.join(repr(a) for a in allowed)}; got {arg}={value!r}."
    )


def _ngrams(tokens, widths):
    """All n-grams of each width in order, joined by spaces (tf.strings.ngrams)."""
    grams = []
    for n in widths:
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _fit_last_axis(ids, length):
    """Cut or zero-pad the last axis of `ids` to `length`."""
    ids = ids[..., :length]
    missing = length - ids.shape[-1]
    if missing > 0:
        pad = [(0, 0)] * (ids.ndim - 1) + [(0, missing)]
        ids = np.pad(ids, pad)
    return ids
