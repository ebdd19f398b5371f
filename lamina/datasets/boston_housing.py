"""Boston housing: 506 samples of 13 features; target: median home value."""

from lamina.datasets import _cache

_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed=113):
    """Load the Boston housing regression data from the Keras cache.

    Args:
        path: File name in the cache. Defaults to `"boston_housing.npz"`.
        test_split: Fraction of the samples kept for testing. Defaults to 0.2.
        seed: Seed of the shuffle before splitting. Defaults to 113.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `float64` features of shape
        `(n, 13)` and targets (thousands of dollars) of shape `(n,)`; with the
        defaults 404 training and 102 test samples.
    """
    _cache.check_test_split(test_split, "boston_housing")
    path = _cache.fetch(path, _cache.KERAS_ORIGIN + "boston_housing.npz", _HASH)
    arrays = _cache.load_npz(path)
    _cache.require_keys(arrays, ("x", "y"), path, "boston_housing")
    return _cache.shuffle_and_split(arrays["x"], arrays["y"], test_split, seed)
