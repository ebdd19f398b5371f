"""DataAdapter: the one interface `fit`, `evaluate` and `predict` read data through."""


class DataAdapter:
    """Turns one kind of user data into batches of device tensors.

    Each batch is a tuple `(x, y, sample_weight)` (y and sample_weight may be
    None), with the same nesting as the user's data.
    """

    #: Whether a fresh pass can be started after the data runs out.
    can_restart = True

    #: How many consecutive batches are used together (`fit` sets it to
    #: `steps_per_execution`). Adapters that gather rows by index may gather
    #: that many batches' rows at once and hand out consecutive views.
    batches_per_gather = 1

    @property
    def num_batches(self):
        """Batches per pass, or None when unknown (generators)."""
        return None

    def get_epoch_iterator(self):
        """A fresh iterator over one pass of the data."""
        raise NotImplementedError

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass
