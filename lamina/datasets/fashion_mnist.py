"""Fashion-MNIST: 70,000 28x28 grayscale images of clothing, 10 classes."""

import gzip
import os

import numpy as np

from lamina.datasets import _cache

_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)


def _read_idx(path: str, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load_data():
    """Load Fashion-MNIST from the Keras cache
    (`~/.keras/datasets/fashion-mnist/`, four gzipped IDX files), downloading
    the files first when missing.

    Labels: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal,
    6 shirt, 7 sneaker, 8 bag, 9 ankle boot.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `uint8` images of shape
        `(60000, 28, 28)` and `(10000, 28, 28)` and `uint8` labels of shape
        `(60000,)` and `(10000,)`.
    """
    subdir = os.path.join("datasets", "fashion-mnist")
    paths = [
        _cache.fetch(name, _cache.KERAS_ORIGIN + name, cache_subdir=subdir)
        for name in _FILES
    ]
    # IDX files: an 8-byte header for labels, 16 bytes for images.
    y_train = _read_idx(paths[0], 8)
    x_train = _read_idx(paths[1], 16).reshape(len(y_train), 28, 28)
    y_test = _read_idx(paths[2], 8)
    x_test = _read_idx(paths[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
