"""PyDataset: batches produced by Python code, indexed by batch number."""

import itertools
import warnings

_SUPER_NOT_CALLED = (
    "Your `PyDataset` subclass should call `super().__init__(**kwargs)` in its "
    "constructor, so that `workers`, `use_multiprocessing` and `max_queue_size` "
    "reach it; the defaults (workers=1, use_multiprocessing=False, "
    "max_queue_size=10) are used meanwhile. Write:\n\n"
    "    def __init__(self, x, y, batch_size, **kwargs):\n"
    "        super().__init__(**kwargs)\n"
)

_DEFAULTS = {"_workers": 1, "_use_multiprocessing": False, "_max_queue_size": 10}


class PyDataset:
    """Base class for a dataset that builds whole batches in Python.

    Subclasses implement `__getitem__(index)`, returning the batch `index` as
    `(x,)`, `(x, y)` or `(x, y, sample_weight)` (NumPy arrays, tensors, or
    dicts/lists of them for several inputs), and `__len__()` (or the
    `num_batches` property), the number of batches; `None` means endless.
    `on_epoch_begin()` and `on_epoch_end()` are called around each epoch, e.g.
    to shuffle.

    Args:
        workers: Number of threads that prepare batches ahead of training
            during `fit`/`evaluate`/`predict`. Defaults to 1 (no prefetching).
        use_multiprocessing: Accepted for Keras compatibility. lamina never
            pickles, so it always uses threads; these run NumPy, file reading
            and torch code in parallel (they release the GIL), but not pure
            Python loops. Defaults to `False`.
        max_queue_size: Most batches prepared ahead of time (0: no limit, as
            Keras's queue reads it). Defaults to 10.

    Iterating over a `PyDataset` directly reads the batches in order, without
    threads.

    Example:
    >>> class Squares(lamina.utils.PyDataset):
    ...     def __init__(self, n, batch_size, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.x = np.arange(n, dtype="float32")
    ...         self.batch_size = batch_size
    ...     def __len__(self):
    ...         return -(-len(self.x) // self.batch_size)
    ...     def __getitem__(self, index):
    ...         x = self.x[index * self.batch_size:(index + 1) * self.batch_size]
    ...         return x, x**2
    >>> [y.tolist() for _, y in Squares(5, 2)]
    [[0.0, 1.0], [4.0, 9.0], [16.0]]
    """

    def __init__(
        self,
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
    ):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(
                f"PyDataset expects `workers` to be an int >= 0; got workers={workers!r}."
            )
        if (
            isinstance(max_queue_size, bool)
            or not isinstance(max_queue_size, int)
            or max_queue_size < 0
        ):
            raise ValueError(
                "PyDataset expects `max_queue_size` to be an int >= 0; got "
                f"max_queue_size={max_queue_size!r}."
            )
        self._workers = workers
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        # Keras warns (and carries on with the defaults) rather than failing.
        missing = [name for name in _DEFAULTS if name not in self.__dict__]
        if missing:
            warnings.warn(_SUPER_NOT_CALLED, stacklevel=3)
            for name in missing:
                setattr(self, name, _DEFAULTS[name])

    @property
    def workers(self) -> int:
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int):
        """The batch at position `index`."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__getitem__(self, index)`, "
            "returning the batch `index` as (x,), (x, y) or (x, y, sample_weight)."
        )

    @property
    def num_batches(self):
        """Number of batches (from `__len__`), or `None` for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__len__(self)` (or a "
            "`num_batches` property) giving the number of batches, or return "
            "None from `num_batches` for an endless dataset."
        )

    def on_epoch_begin(self) -> None:
        """Called before each epoch; override to prepare it."""

    def on_epoch_end(self) -> None:
        """Called after each epoch; override e.g. to shuffle the samples."""

    def __iter__(self):
        try:
            count = self.num_batches
        except NotImplementedError:
            count = None
        indices = itertools.count() if count is None else range(count)
        for index in indices:
            yield self[index]
