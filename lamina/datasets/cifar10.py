"""CIFAR-10: 60,000 32x32 colour images in 10 classes.

Labels: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog,
7 horse, 8 ship, 9 truck.
"""

import os

import numpy as np

from lamina.datasets import _cache, _cifar

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"


def load_data():
    """Load CIFAR-10 from the Keras cache, downloading and extracting it first
    when missing (`~/.keras/datasets/cifar-10-batches-py-target/`).

    The batch files are pickled dicts; lamina decodes them with its data-only
    reader, never with `pickle`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `uint8` images of shape
        `(50000, 32, 32, 3)` and `(10000, 32, 32, 3)` (channels first under
        `image_data_format() == "channels_first"`), and `uint8` labels of shape
        `(50000, 1)` and `(10000, 1)`.
    """
    path = _cache.fetch("cifar-10-batches-py-target", _ORIGIN, _HASH, extract=True)
    path = os.path.join(path, "cifar-10-batches-py")
    parts = [
        _cifar.load_batch(os.path.join(path, f"data_batch_{i}")) for i in range(1, 6)
    ]
    x_train = np.concatenate([x for x, _ in parts]).astype("uint8")
    y_train = np.concatenate([np.asarray(y) for _, y in parts]).astype("uint8")
    x_test, y_test = _cifar.load_batch(os.path.join(path, "test_batch"))
    y_train = y_train.reshape(-1, 1)
    y_test = np.asarray(y_test, dtype="uint8").reshape(-1, 1)
    return (_cifar.to_image_format(x_train), y_train), (
        _cifar.to_image_format(x_test.astype("uint8")),
        y_test,
    )
