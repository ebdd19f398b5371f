"""EpochIterator: steps of one epoch from a data adapter, honouring steps_per_epoch."""

import warnings

from lamina.trainers.data_adapters import get_data_adapter


class EpochIterator:
    """Yields `(step, batch)` for one epoch at a time.

    Without `steps_per_epoch`, each epoch is one full pass. With it, an epoch is
    that many steps, continuing where the previous epoch stopped (as in Keras); a
    source of known length that runs out mid-epoch ends that epoch early, and the
    next epoch starts it over. A generator that runs out ends training with a
    warning.
    """

    def __init__(
        self,
        x,
        y=None,
        sample_weight=None,
        batch_size=None,
        steps_per_epoch=None,
        shuffle=False,
        class_weight=None,
        check_nan=True,
    ):
        if steps_per_epoch is not None and (
            isinstance(steps_per_epoch, bool) or int(steps_per_epoch) < 1
        ):
            raise ValueError(
                f"steps_per_epoch must be a positive int; got {steps_per_epoch!r}."
            )
        self.adapter = get_data_adapter(
            x,
            y,
            sample_weight,
            batch_size=batch_size,
            shuffle=shuffle,
            class_weight=class_weight,
            check_nan=check_nan,
        )
        self.steps_per_epoch = steps_per_epoch
        self._iterator = None
        self._seen = 0  # batches taken from the current pass (steps_per_epoch)
        self.exhausted = False
        # (rank, world) under data parallelism: each batch is split across ranks.
        self.shard = None
        self.scale = 1.0
        self.chunk_sizes = None

    def reset(self):
        """Start the next epoch at the data's beginning (Keras resets the
        validation iterator before every evaluation)."""
        if self.adapter.can_restart:
            self._iterator, self._seen = None, 0

    @property
    def num_batches(self):
        if self.steps_per_epoch is not None:
            return int(self.steps_per_epoch)
        return self.adapter.num_batches

    def enumerate_epoch(self):
        if self.shard is None:
            yield from self._enumerate_global()
            return
        from lamina.distribution.data_parallel import shard_batch

        rank, world = self.shard
        for step, batch in self._enumerate_global():
            batch, self.scale, self.chunk_sizes = shard_batch(batch, rank, world)
            yield step, batch

    def _enumerate_global(self):
        self.adapter.on_epoch_begin()
        if self.steps_per_epoch is None:
            steps = 0
            for step, batch in enumerate(self.adapter.get_epoch_iterator()):
                steps += 1
                yield step, batch
            if steps == 0:
                self._ran_out()
        else:
            total = self.adapter.num_batches if self.adapter.can_restart else None
            for step in range(int(self.steps_per_epoch)):
                if total and self._seen >= total:
                    # Keras: a pass of known length that ends mid-epoch ends
                    # the epoch early; the next epoch starts a fresh pass.
                    warnings.warn(
                        "Your input ran out of data before the epoch's end: "
                        f"steps_per_epoch={self.steps_per_epoch} does not divide "
                        f"the data's {total} batches: this epoch ends after "
                        f"{step} steps, and the next one starts the data over.",
                        stacklevel=3,
                    )
                    break
                batch = self._next_batch()
                if batch is None:
                    break
                self._seen += 1
                yield step, batch
            if total and self._seen >= total:
                self._iterator, self._seen = None, 0
        self.adapter.on_epoch_end()

    def _next_batch(self):
        if self._iterator is None:
            self._iterator = self.adapter.get_epoch_iterator()
        try:
            return next(self._iterator)
        except StopIteration:
            pass
        if not self.adapter.can_restart:
            self._ran_out()
            return None
        self._iterator = self.adapter.get_epoch_iterator()
        try:
            return next(self._iterator)
        except StopIteration:
            return None

    def _ran_out(self):
        self.exhausted = True
        warnings.warn(
            "Your input ran out of data; training stops here. A generator can be "
            "read once: make it loop forever and pass steps_per_epoch, or pass a "
            "PyDataset or arrays, which restart every epoch.",
            stacklevel=4,
        )
