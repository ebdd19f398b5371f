"""CIFAR-100: 60,000 32x32 colour images in 100 fine (20 coarse) classes."""

import os

import numpy as np

from lamina.datasets import _cache, _cifar

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"


def load_data(label_mode: str = "fine"):
    """Load CIFAR-100 from the Keras cache, downloading and extracting it first
    when missing (`~/.keras/datasets/cifar-100-python-target/`).

    Args:
        label_mode: `"fine"` (100 classes) or `"coarse"` (20 superclasses).
            Defaults to `"fine"`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `uint8` images of shape
        `(50000, 32, 32, 3)` and `(10000, 32, 32, 3)`, and int labels of shape
        `(50000, 1)` and `(10000, 1)`.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(
            "cifar100.load_data expects `label_mode` to be 'fine' or 'coarse'; "
            f"got label_mode={label_mode!r}."
        )
    path = _cache.fetch("cifar-100-python-target", _ORIGIN, _HASH, extract=True)
    path = os.path.join(path, "cifar-100-python")
    key = f"{label_mode}_labels"
    x_train, y_train = _cifar.load_batch(os.path.join(path, "train"), label_key=key)
    x_test, y_test = _cifar.load_batch(os.path.join(path, "test"), label_key=key)
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    return (_cifar.to_image_format(x_train), y_train), (
        _cifar.to_image_format(x_test),
        y_test,
    )
