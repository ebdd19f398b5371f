"""MNIST: 70,000 28x28 grayscale images of handwritten digits, 10 classes."""

from lamina.datasets import _cache

_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_data(path: str = "mnist.npz"):
    """Load MNIST from the Keras cache (`~/.keras/datasets/mnist.npz`),
    downloading it first when missing.

    Args:
        path: File name in the cache. Defaults to `"mnist.npz"`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `uint8` images of shape
        `(60000, 28, 28)` and `(10000, 28, 28)` (values 0-255), and `uint8`
        labels 0-9 of shape `(60000,)` and `(10000,)`.
    """
    path = _cache.fetch(path, _cache.KERAS_ORIGIN + "mnist.npz", _HASH)
    arrays = _cache.load_npz(path)
    keys = ("x_train", "y_train", "x_test", "y_test")
    _cache.require_keys(arrays, keys, path, "mnist")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
