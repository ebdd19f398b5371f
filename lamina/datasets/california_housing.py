"""California housing: 20,640 districts, 8 features; target: median house value."""

from lamina.datasets import _cache

_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(
    version: str = "large",
    path: str = "california_housing.npz",
    test_split: float = 0.2,
    seed=113,
):
    """Load the California housing regression data from the Keras cache.

    Features: median income, house age, average rooms, average bedrooms,
    population, average occupancy, latitude, longitude. Targets are dollars.

    Args:
        version: `"large"` (all 20,640 samples) or `"small"` (the first 600, a
            stand-in for boston_housing). Defaults to `"large"`.
        path: File name in the cache. Defaults to `"california_housing.npz"`.
        test_split: Fraction of the samples kept for testing. Defaults to 0.2.
        seed: Seed of the shuffle before splitting. Defaults to 113.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: features of shape `(n, 8)` and
        targets of shape `(n,)`.
    """
    _cache.check_test_split(test_split, "california_housing")
    if version not in ("large", "small"):
        raise ValueError(
            "california_housing.load_data expects `version` to be 'large' or "
            f"'small'; got version={version!r}."
        )
    origin = _cache.KERAS_ORIGIN + "california_housing.npz"
    path = _cache.fetch(path, origin, _HASH)
    arrays = _cache.load_npz(path)
    _cache.require_keys(arrays, ("x", "y"), path, "california_housing")
    x, y = arrays["x"], arrays["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    return _cache.shuffle_and_split(x, y, test_split, seed)
