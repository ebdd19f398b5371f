"""Reuters: 11,228 newswires as word-index sequences, labelled by 46 topics.

Like imdb, the cached `reuters.npz` holds object arrays; lamina decodes them
without `pickle` (see `lamina.datasets.imdb`).
"""

import json

import numpy as np

from lamina.datasets import _cache

_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
_WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"

_LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing",
    "money-supply", "coffee", "sugar", "trade", "reserves", "ship", "cotton",
    "carcass", "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp",
    "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock",
    "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc",
    "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)  # fmt: skip


def load_data(
    path: str = "reuters.npz",
    num_words=None,
    skip_top: int = 0,
    maxlen=None,
    test_split: float = 0.2,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """Load the Reuters topic-classification data.

    Args:
        path: File name in the cache. Defaults to `"reuters.npz"`.
        num_words: Keep only word indices below this; others become
            `oov_char`. Defaults to `None` (all words).
        skip_top: Indices below this also become `oov_char`. Defaults to 0.
        maxlen: Drop sequences of this length or longer. Defaults to `None`.
        test_split: Fraction of the samples kept for testing. Defaults to 0.2.
        seed: Seed of the shuffle. Defaults to 113.
        start_char: Index put first in every sequence. Defaults to 1.
        oov_char: Index of cut words (`None`: drop them). Defaults to 2.
        index_from: Added to every word index. Defaults to 3.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x_*` 1-D object arrays of
        lists of ints, `y_*` int arrays of topic indices 0-45.
    """
    _cache.check_test_split(test_split, "reuters")
    path = _cache.fetch(path, _cache.KERAS_ORIGIN + "reuters.npz", _HASH)
    arrays = _cache.load_npz(path)
    _cache.require_keys(arrays, ("x", "y"), path, "reuters")
    order = np.arange(len(arrays["x"]))
    np.random.RandomState(seed).shuffle(order)
    xs, labels = arrays["x"][order], arrays["y"][order]
    xs = _cache.shift_indices(xs, start_char, index_from)
    if maxlen:
        xs, labels = _cache.drop_long(maxlen, xs, labels)
    xs = _cache.limit_vocabulary(xs, num_words, skip_top, oov_char)
    labels = np.asarray(labels)
    cut = int(len(xs) * (1 - test_split))
    return (_cache.object_array(xs[:cut]), np.array(labels[:cut])), (
        _cache.object_array(xs[cut:]),
        np.array(labels[cut:]),
    )


def get_word_index(path: str = "reuters_word_index.json") -> dict:
    """The `{word: index}` dict of the Reuters data (indices before `index_from`)."""
    origin = _cache.KERAS_ORIGIN + "reuters_word_index.json"
    path = _cache.fetch(path, origin, _WORD_INDEX_HASH)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def get_label_names() -> tuple:
    """The 46 topic names, in label order."""
    return _LABEL_NAMES
