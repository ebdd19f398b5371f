"""Batches from a torch `DataLoader`, or a torch `Dataset` batched for you."""

import torch

from lamina.random.seed_generator import _keras_seed_order
from lamina.trainers.data_adapters import data_adapter_utils as utils
from lamina.trainers.data_adapters import keras_draws
from lamina.trainers.data_adapters.data_adapter import DataAdapter


class TorchDataLoaderAdapter(DataAdapter):
    """A `torch.utils.data.DataLoader` yielding `(x, y)` batches, or a `Dataset`
    yielding `(x, y)` samples (wrapped in a DataLoader with `batch_size` and
    `shuffle`). Batches are moved to lamina's device as they arrive."""

    def __init__(self, data, batch_size=None, shuffle=False):
        if isinstance(data, torch.utils.data.DataLoader):
            self._loader = data
        else:
            is_iterable = isinstance(data, torch.utils.data.IterableDataset)
            self._loader = torch.utils.data.DataLoader(
                data,
                batch_size=int(batch_size or 32),
                shuffle=bool(shuffle) and not is_iterable,
            )

    @property
    def num_batches(self):
        try:
            return len(self._loader)
        except TypeError:
            return None

    def get_epoch_iterator(self):
        if _keras_seed_order():
            return keras_draws.loader_pass(
                self, self._batches(), loader_draws_itself=True
            )
        return self._batches()

    def _batches(self):
        for batch in self._loader:
            yield utils.convert_batch(batch)

    def take_keras_build_draws(self):
        """Keras reads the first batch of a fresh iterator to build the model."""
        next(iter(self._loader), None)
