"""Batches from a Python generator or iterator that yields them ready-made."""

from lamina.trainers.data_adapters import data_adapter_utils as utils
from lamina.trainers.data_adapters.data_adapter import DataAdapter


class GeneratorDataAdapter(DataAdapter):
    """A generator yielding `x`, `(x, y)` or `(x, y, sample_weight)` batches.

    A generator can be read only once: for several epochs, make it loop forever
    and pass `steps_per_epoch`, as in Keras.
    """

    can_restart = False

    def __init__(self, generator):
        self._generator = generator

    def get_epoch_iterator(self):
        for batch in self._generator:
            yield utils.convert_batch(batch)
