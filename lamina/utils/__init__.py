"""lamina.utils: progress bar, labels, seeds, Python datasets and plotting."""

from lamina.backend.naming import clear_session
from lamina.utils.history_plot import plot_history
from lamina.utils.numerical_utils import normalize, to_categorical
from lamina.utils.progbar import Progbar
from lamina.utils.py_dataset import PyDataset
from lamina.utils.rng_utils import set_random_seed

# Keras 3 keeps the Keras 2 name `Sequence` as an alias of PyDataset.
Sequence = PyDataset

__all__ = [
    "Progbar",
    "PyDataset",
    "Sequence",
    "clear_session",
    "normalize",
    "plot_history",
    "set_random_seed",
    "to_categorical",
]
