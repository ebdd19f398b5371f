"""Batches from a Python generator or iterator that yields them ready-made."""

import itertools

from lamina.random.seed_generator import _keras_seed_order
from lamina.trainers.data_adapters import data_adapter_utils as utils
from lamina.trainers.data_adapters import keras_draws
from lamina.trainers.data_adapters.data_adapter import DataAdapter


class GeneratorDataAdapter(DataAdapter):
    """A generator yielding `x`, `(x, y)` or `(x, y, sample_weight)` batches.

    A generator can be read only once: for several epochs, make it loop forever
    and pass `steps_per_epoch`, as in Keras.

    Raises:
        ValueError: For a generator that yields nothing (Keras's check: its
            first batch is read here and put back in front).
    """

    can_restart = False

    def __init__(self, generator):
        iterator = iter(generator)
        try:
            first = next(iterator)
        except StopIteration:
            raise ValueError(
                "When passing a Python generator to a Keras model, the generator "
                "must yield at least one batch. Received an empty generator."
            ) from None
        self._generator = itertools.chain((first,), iterator)

    def get_epoch_iterator(self):
        if _keras_seed_order():
            return keras_draws.loader_pass(self, self._batches())
        return self._batches()

    def _batches(self):
        for batch in self._generator:
            yield utils.convert_batch(batch)

    def take_keras_build_draws(self):
        """Keras's draws reading a first batch to build the model."""
        keras_draws.draw_loader_seed()
