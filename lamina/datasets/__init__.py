"""lamina.datasets: Keras's datasets, read from (and cached in) Keras's cache.

Each module offers `load_data()` with Keras's signature and return values;
files a user already downloaded with Keras (`~/.keras/datasets` or
`$KERAS_HOME/datasets`) are reused. `digits` needs no download: it reads the
small set bundled with scikit-learn.
"""

from lamina.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    digits,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)

__all__ = [
    "boston_housing",
    "california_housing",
    "cifar10",
    "cifar100",
    "digits",
    "fashion_mnist",
    "imdb",
    "mnist",
    "reuters",
]
