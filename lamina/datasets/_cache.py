"""What the dataset loaders share: Keras's download origin, safe file reading,
the seeded shuffle-and-split, and the word-index sequence filters."""

import zipfile

import numpy as np

from lamina.datasets import _data_pickle
from lamina.utils.file_utils import get_file

# Where Keras's loaders download from (the same files, the same hashes).
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def fetch(fname: str, origin: str, file_hash=None, **kwargs) -> str:
    """The cached path of a dataset file (downloaded when missing)."""
    return get_file(fname=fname, origin=origin, file_hash=file_hash, **kwargs)


def load_npz(path: str) -> dict:
    """Every array of a `.npz` file, read without unpickling.

    Plain arrays go through `np.load(allow_pickle=False)`; object arrays (the
    ragged sequences of imdb/reuters) through lamina's data-only decoder.
    """
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            arrays[member[: -len(".npy")]] = _data_pickle.read_npy(archive.read(member))
    return arrays


def require_keys(arrays: dict, keys, path: str, dataset: str) -> None:
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise ValueError(
            f"{dataset}.load_data expects the file {path!r} to hold the arrays "
            f"{list(keys)}; it lacks {missing} (found {sorted(arrays)}). Delete "
            "the file so that it is downloaded again."
        )


def check_test_split(test_split, dataset: str) -> None:
    if not 0 <= test_split < 1:
        raise ValueError(
            f"{dataset}.load_data expects `test_split` in [0, 1) (the fraction "
            f"kept for testing); got test_split={test_split!r}."
        )


def shuffle_and_split(x, y, test_split: float, seed: int):
    """Keras's split: one seeded RandomState shuffle, then the first
    `int(n * (1 - test_split))` samples train, the rest test."""
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (
        np.array(x[cut:]),
        np.array(y[cut:]),
    )


def shift_indices(xs, start_char, index_from):
    """Prefix `start_char` and add `index_from` to every word index, as Keras."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    if index_from:
        return [[w + index_from for w in x] for x in xs]
    return [list(x) for x in xs]


def drop_long(maxlen, xs, labels):
    """Keep the sequences strictly shorter than `maxlen` (Keras's rule)."""
    kept = [(x, y) for x, y in zip(xs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def limit_vocabulary(xs, num_words, skip_top, oov_char):
    """Words outside `[skip_top, num_words)` become `oov_char` (or are dropped
    when `oov_char` is None)."""
    if not num_words:
        num_words = max(max(x) for x in xs if len(x)) if xs else 0
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def object_array(sequences) -> np.ndarray:
    """A 1-D object array of lists (even when all lists have the same length)."""
    out = np.empty(len(sequences), dtype=object)
    for i, seq in enumerate(sequences):
        out[i] = seq
    return out
