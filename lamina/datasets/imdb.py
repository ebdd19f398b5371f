"""IMDB: 50,000 movie reviews as word-index sequences, labelled by sentiment.

Keras's `imdb.npz` stores the ragged sequences as NumPy object arrays, which
NumPy writes as pickle streams. lamina reads them with its own data-only
decoder (`lamina.datasets._data_pickle`): lists of ints are rebuilt, anything
that would run code is refused. `pickle` is never called.
"""

import json

import numpy as np

from lamina.datasets import _cache

_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
_WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"


def load_data(
    path: str = "imdb.npz",
    num_words=None,
    skip_top: int = 0,
    maxlen=None,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
    **kwargs,
):
    """Load the IMDB sentiment data (25,000 training, 25,000 test reviews).

    Words are indexed by frequency (index `i` is the i-th most frequent word,
    before `index_from` is added); 0 is reserved for padding.

    Args:
        path: File name in the cache. Defaults to `"imdb.npz"`.
        num_words: Keep only word indices below this; others become
            `oov_char`. Defaults to `None` (all words).
        skip_top: Indices below this also become `oov_char`. Defaults to 0.
        maxlen: Drop sequences of this length or longer. Defaults to `None`.
        seed: Seed of the shuffles of both sets. Defaults to 113.
        start_char: Index put first in every sequence (`None`: none).
            Defaults to 1.
        oov_char: Index of words cut by `num_words`/`skip_top` (`None`: drop
            them). Defaults to 2.
        index_from: Added to every word index. Defaults to 3.
        **kwargs: Accepted and ignored, as Keras does.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x_*` are 1-D object arrays of
        lists of ints, `y_*` int arrays of 0 (negative) / 1 (positive).
    """
    path = _cache.fetch(path, _cache.KERAS_ORIGIN + "imdb.npz", _HASH)
    arrays = _cache.load_npz(path)
    _cache.require_keys(
        arrays, ("x_train", "y_train", "x_test", "y_test"), path, "imdb"
    )
    rng = np.random.RandomState(seed)
    # Keras shuffles train then test with one RandomState.
    order = np.arange(len(arrays["x_train"]))
    rng.shuffle(order)
    x_train, labels_train = arrays["x_train"][order], arrays["y_train"][order]
    order = np.arange(len(arrays["x_test"]))
    rng.shuffle(order)
    x_test, labels_test = arrays["x_test"][order], arrays["y_test"][order]

    x_train = _cache.shift_indices(x_train, start_char, index_from)
    x_test = _cache.shift_indices(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = _cache.drop_long(maxlen, x_train, labels_train)
        x_test, labels_test = _cache.drop_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(
                f"imdb.load_data kept no sequence shorter than maxlen={maxlen}; "
                "increase maxlen."
            )
    xs = _cache.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([np.asarray(labels_train), np.asarray(labels_test)])
    cut = len(x_train)
    return (_cache.object_array(xs[:cut]), labels[:cut]), (
        _cache.object_array(xs[cut:]),
        labels[cut:],
    )


def get_word_index(path: str = "imdb_word_index.json") -> dict:
    """The `{word: index}` dict of the IMDB data (indices before `index_from`)."""
    origin = _cache.KERAS_ORIGIN + "imdb_word_index.json"
    path = _cache.fetch(path, origin, _WORD_INDEX_HASH)
    with open(path, encoding="utf-8") as f:
        return json.load(f)
