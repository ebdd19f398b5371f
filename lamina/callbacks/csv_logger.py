"""CSVLogger: one CSV row of logs per epoch."""

import collections.abc
import csv
import os

import numpy as np

from lamina.callbacks._io_utils import is_chief
from lamina.callbacks.callback import Callback


class CSVLogger(Callback):
    """Append each epoch's logs to a CSV file, flushed after every row.

    Columns, as Keras writes them: `epoch` (0-based), then the log names of
    the first epoch sorted alphabetically. If that epoch had no `val_*` values,
    a `val_<name>` column is added for every name (filled with `NA` until
    validation values appear). Values missing from a later epoch are `NA`.

    Args:
        filename: Path of the CSV file, e.g. `"run/log.csv"`.
        separator: Column separator. Defaults to `","`.
        append: `True` appends to an existing file (no second header, useful
            when resuming); `False` overwrites it. Defaults to `False`.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> _ = model.fit(np.zeros((4, 2)), np.zeros(4), epochs=2, verbose=0,
    ...               callbacks=[lamina.callbacks.CSVLogger(path)])
    >>> with open(path) as f:
    ...     print(f.read().strip())
    epoch,loss,val_loss
    0,0.0,NA
    1,0.0,NA
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def _should_write(self) -> bool:
        """Only one process of a distributed run writes the file."""
        return is_chief()

    def on_train_begin(self, logs=None):
        if not self._should_write():
            return
        directory = os.path.dirname(self.filename)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        if self.csv_file is None or self.csv_file.closed:
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.writer is None:
            sep = self.sep

            class _Dialect(csv.excel):
                delimiter = sep

            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch"] + self.keys, dialect=_Dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _format(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _format(value):
    """A cell: strings and numbers as they are, a 1-D sequence as `"[a, b]"`."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value
    if isinstance(value, collections.abc.Iterable):
        return f'"[{", ".join(map(str, value))}]"'
    return value
