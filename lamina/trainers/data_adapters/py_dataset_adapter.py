"""Batches from a `lamina.utils.PyDataset` (Keras's `Sequence` successor)."""

import concurrent.futures
import random

from lamina.random.seed_generator import _keras_seed_order
from lamina.trainers.data_adapters import data_adapter_utils as utils
from lamina.trainers.data_adapters import keras_draws
from lamina.trainers.data_adapters.data_adapter import DataAdapter


class PyDatasetAdapter(DataAdapter):
    """Reads `dataset[i]` for each batch index; with `shuffle=True` the batch order
    is shuffled every epoch. `workers > 1` prefetches batches on threads (no
    multiprocessing: nothing is pickled). `class_weight` turns each `(x, y)`
    batch into `(x, y, weights)`, as for arrays."""

    def __init__(self, dataset, shuffle=False, class_weight=None):
        self._dataset = dataset
        if self.num_batches == 0 and not _stands_for_tf_data(dataset):
            # Keras fails on such a dataset too (calling the model on None);
            # an empty tf.data dataset (what lamina's BatchedDataset stands
            # for) just runs no steps.
            raise ValueError(
                f"The {type(dataset).__name__} passed to the model has no batches "
                "(its length is 0). A PyDataset must have at least one batch."
            )
        self._shuffle = bool(shuffle)
        self._class_weight = None
        if class_weight is not None:
            from lamina import backend

            self._class_weight = utils.make_class_weight_tensor(
                class_weight, backend.get_device()
            )

    @property
    def num_batches(self):
        count = getattr(self._dataset, "num_batches", None)
        if count is None:
            try:
                count = len(self._dataset)
            except TypeError:
                return None
        return count

    def on_epoch_begin(self):
        hook = getattr(self._dataset, "on_epoch_begin", None)
        if hook is not None:
            hook()

    def on_epoch_end(self):
        hook = getattr(self._dataset, "on_epoch_end", None)
        if hook is not None:
            hook()

    def _convert(self, batch):
        batch = utils.convert_batch(batch)
        if self._class_weight is None or not isinstance(batch, tuple):
            return batch
        if len(batch) == 3:
            raise ValueError(
                "fit() got class_weight, but the PyDataset's batches already "
                "carry sample weights (x, y, sample_weight); give one or the other."
            )
        if len(batch) == 2:
            weights = utils.class_weight_to_sample_weights(batch[1], self._class_weight)
            batch = (*batch, weights)
        return batch

    def get_epoch_iterator(self):
        if _keras_seed_order():
            return keras_draws.loader_pass(self, self._batches())
        return self._batches()

    def take_keras_build_draws(self):
        """Keras's draws reading a first batch to build the model: a
        `DataLoader`'s base seed, and the shuffle of a finite dataset's batch
        order (Python's `random`)."""
        keras_draws.draw_loader_seed()
        count = self.num_batches
        if self._shuffle and count is not None:
            random.shuffle(list(range(count)))

    def _batches(self):
        count = self.num_batches
        if count is None:
            index = 0
            while True:
                try:
                    batch = self._dataset[index]
                except IndexError:
                    return
                yield self._convert(batch)
                index += 1
        order = list(range(count))
        if self._shuffle:
            # Python's `random`, as Keras: the same seed gives the same batch order,
            # and shuffling leaves torch's generator (weights, dropout) untouched.
            random.shuffle(order)
        workers = int(getattr(self._dataset, "workers", 1) or 1)
        if workers <= 1:
            for index in order:
                yield self._convert(self._dataset[index])
            return
        queue_size = int(getattr(self._dataset, "max_queue_size", 10) or 10)
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            pending = [
                pool.submit(self._dataset.__getitem__, i) for i in order[:queue_size]
            ]
            next_index = len(pending)
            while pending:
                batch = pending.pop(0).result()
                if next_index < len(order):
                    pending.append(
                        pool.submit(self._dataset.__getitem__, order[next_index])
                    )
                    next_index += 1
                yield self._convert(batch)


def _stands_for_tf_data(dataset) -> bool:
    from lamina.utils.dataset_utils import BatchedDataset

    return isinstance(dataset, BatchedDataset)
