"""Batches sliced from arrays that were moved to the device once, up front."""

import math

import numpy as np
import torch

from lamina import backend, tree
from lamina.random.seed_generator import _keras_seed_order
from lamina.trainers.data_adapters import data_adapter_utils as utils
from lamina.trainers.data_adapters import keras_draws
from lamina.trainers.data_adapters.data_adapter import DataAdapter


class ArrayDataAdapter(DataAdapter):
    """NumPy arrays, torch tensors, pandas objects, and lists/dicts of them.

    The data is converted to device tensors once; each epoch draws one random
    permutation (on the CPU generator, so seeds give the same order on every
    device) and slices batches from it. The last partial batch is kept.
    """

    def __init__(
        self,
        x,
        y=None,
        sample_weight=None,
        batch_size=None,
        shuffle=False,
        class_weight=None,
        check_nan=True,
    ):
        self._x = utils.to_device_tensors(x, "x")
        self._y = utils.to_device_tensors(y, "y")
        self._sample_weight = utils.to_device_tensors(sample_weight, "sample_weight")
        sizes = {
            "x": utils.num_samples(self._x, "x"),
            "y": utils.num_samples(self._y, "y") if y is not None else None,
            "sample_weight": utils.num_samples(self._sample_weight, "sample_weight")
            if sample_weight is not None
            else None,
        }
        given = {k: v for k, v in sizes.items() if v is not None}
        if len(set(given.values())) > 1:
            detail = ", ".join(f"{k} has {v}" for k, v in given.items())
            raise ValueError(
                f"x, y and sample_weight must have the same number of samples; "
                f"{detail}. Make them the same length."
            )
        self._size = sizes["x"]
        if self._size == 0:
            raise ValueError(
                "The data passed is empty (0 samples). Pass at least one sample."
            )
        if check_nan:
            utils.check_no_nan(self._x, "x")
        self._batch_size = int(batch_size or 32)
        if self._batch_size < 1:
            raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
        self._shuffle = shuffle
        self._loader_draws = False  # see on_epoch_begin
        self._class_weight = None
        if class_weight is not None:
            if sample_weight is not None:
                # Keras 3 refuses the pair (Keras 2 multiplied them).
                raise ValueError(
                    "Got both class_weight and sample_weight; pass only one. To "
                    "combine them, multiply the class weights into sample_weight."
                )
            if y is None or tree.is_nested(self._y):
                raise ValueError(
                    "class_weight needs a single array of targets y; for several "
                    "outputs, pass sample_weight per output instead."
                )
            self._class_weight = utils.make_class_weight_tensor(
                class_weight, backend.get_device()
            )

    @property
    def num_batches(self):
        return math.ceil(self._size / self._batch_size)

    @property
    def batch_size(self):
        return self._batch_size

    @property
    def num_samples(self):
        return self._size

    def on_epoch_begin(self):
        # Checked once per epoch: after `set_random_seed`, draw as Keras does.
        self._loader_draws = _keras_seed_order()

    def get_epoch_iterator(self):
        if self._loader_draws:
            return self._keras_pass()
        return self._pass(self._default_order)

    def _default_order(self):
        """This pass's row order, or None for the data's own order."""
        if self._shuffle == "batch":
            return self._batch_shuffled_order()
        if self._shuffle:
            return self._on_device(torch.randperm(self._size))
        return None

    def _on_device(self, order):
        if torch.distributed.is_initialized():
            # Every rank must split the same global batches: use rank 0's order.
            from lamina.distribution.data_parallel import broadcast_from_primary

            order = broadcast_from_primary(order.to(backend.get_device()))
        return order.to(backend.get_device())

    def _pass(self, make_order, batch_rows=None):
        """Yield one pass's batches. `make_order()` (called at the first batch)
        gives the row order or None; `batch_rows(start, stop)`, if given,
        gives the rows of `start:stop` instead, one gather group at a time."""
        size, batch_size = self._size, self._batch_size
        order = make_order()
        # One index_select per tensor for a group of batches, then views:
        # fewer gathers, and the compiled step stacks the views without copying.
        rows = batch_size * self.batches_per_gather
        for group_start in range(0, size, rows):
            group_stop = min(group_start + rows, size)
            if batch_rows is not None:
                index = batch_rows(group_start, group_stop)
            else:
                index = None if order is None else order[group_start:group_stop]
            xs = _take(self._x, group_start, group_stop, index)
            ys = _take(self._y, group_start, group_stop, index)
            weights = _take(self._sample_weight, group_start, group_stop, index)
            if rows == batch_size:
                yield self._batch(xs, ys, weights)
                continue
            for start in range(0, group_stop - group_start, batch_size):
                stop = start + batch_size
                yield self._batch(
                    _take(xs, start, stop, None),
                    _take(ys, start, stop, None),
                    _take(weights, start, stop, None),
                )

    def take_keras_build_draws(self):
        """The draws of Keras reading its first batch to build the model: a
        `DataLoader` iterator's base seed, then its sampler's first draw (see
        `keras_draws.take_keras_build_draws`)."""
        keras_draws.draw_loader_seed()
        if self._shuffle == "batch":
            torch.randperm(min(self._batch_size, self._size))
        elif self._shuffle:
            keras_draws.draw_loader_seed()

    def _keras_pass(self):
        """One pass drawing from torch's global generator as Keras 3's torch
        backend does (see `keras_draws.loader_pass`): a `RandomSampler`
        (shuffle=True) draws a seed for its own generator and permutes all
        rows with it; shuffle="batch" keeps batches in order and permutes
        each one with `torch.randperm` as it is fetched."""
        batch_rows = None
        make_order = _no_order
        if self._shuffle == "batch":

            def batch_rows(start, stop):
                device = backend.get_device()
                return torch.cat(
                    [
                        torch.randperm(min(b + self._batch_size, stop) - b) + b
                        for b in range(start, stop, self._batch_size)
                    ]
                ).to(device)

        elif self._shuffle:

            def make_order():
                generator = torch.Generator()
                generator.manual_seed(keras_draws.draw_loader_seed())
                return self._on_device(torch.randperm(self._size, generator=generator))

        return keras_draws.loader_pass(self, self._pass(make_order, batch_rows))

    def _batch(self, x, y, sample_weight):
        if self._class_weight is not None:
            weights = utils.class_weight_to_sample_weights(y, self._class_weight)
            sample_weight = (
                weights if sample_weight is None else (sample_weight * weights)
            )
        return utils.pack_x_y_sample_weight(x, y, sample_weight)

    def _batch_shuffled_order(self):
        # Keras "batch" shuffling: shuffle within batch-sized chunks, then chunks.
        size, batch_size = self._size, self._batch_size
        chunks = list(torch.arange(size).split(batch_size))
        chunks = [c[torch.randperm(len(c))] for c in chunks]
        full = [chunks[i] for i in torch.randperm(len(chunks) - 1).tolist()]
        return torch.cat(full + [chunks[-1]]).to(backend.get_device())


def _no_order():
    return None


def _take(structure, start, stop, index):
    """Rows `start:stop` (or `index`) of every tensor in `structure`; a single
    tensor (the common case) takes no trip through `tree`."""
    if structure is None:
        return None
    if isinstance(structure, torch.Tensor):
        return (
            structure[start:stop] if index is None else structure.index_select(0, index)
        )
    if isinstance(structure, np.ndarray):  # text (see to_device_tensors)
        return (
            structure[start:stop] if index is None else structure[index.cpu().numpy()]
        )
    return tree.map_structure(lambda t: _take(t, start, stop, index), structure)
