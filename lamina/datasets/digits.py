"""Handwritten digits bundled with scikit-learn: 1,797 8x8 images, 10 classes.

Not a Keras dataset: a small one that needs no download, for offline demos and
tests. Returns arrays shaped like `mnist.load_data()`'s.
"""

from lamina.datasets import _cache


def load_data(test_split: float = 0.2, seed=113):
    """Load scikit-learn's digits as `(x_train, y_train), (x_test, y_test)`.

    Args:
        test_split: Fraction of the samples kept for testing. Defaults to 0.2.
        seed: Seed of the shuffle before splitting. Defaults to 113.

    Returns:
        `uint8` images of shape `(n, 8, 8)` (values 0-16) and `uint8` labels
        0-9 of shape `(n,)`; with the defaults 1,437 training and 360 test
        samples.

    Raises:
        ImportError: scikit-learn is not installed.

    Example:
    >>> from lamina.datasets import digits
    >>> (x_train, y_train), (x_test, y_test) = digits.load_data()
    >>> x_train.shape, x_train.dtype.name, y_test.shape
    ((1437, 8, 8), 'uint8', (360,))
    """
    _cache.check_test_split(test_split, "digits")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "lamina.datasets.digits reads the digits bundled with scikit-learn, "
            "which is not installed. Install it with `pip install scikit-learn` "
            '(or `pip install "lamina[demo]"`).'
        ) from None
    bunch = load_digits()
    x = bunch.images.astype("uint8")
    y = bunch.target.astype("uint8")
    return _cache.shuffle_and_split(x, y, test_split, seed)
