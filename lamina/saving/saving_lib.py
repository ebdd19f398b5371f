"""Keras's `keras.src.saving.saving_lib.H5IOStore`: a store of named arrays in a
Keras-layout HDF5 file (`<path>/vars/<key>`), opened for writing or reading.

KerasHub's `Backbone.save_lora_weights` / `load_lora_weights` use it directly:
`store = H5IOStore(path, mode="w")`, `store.make("lora")["rank"] = 4`,
`store.make("lora/3")["lora_kernel_a"] = variable`, `store.close()`;
`store.get("lora")["rank"][()]`, `variable.assign(store.get("lora/3")["..."])`.
Writing goes through `H5Writer` into a temporary file that `close()` moves into
place (`file_utils.atomic_write`), reading through `H5Reader` (the file is
checked before anything is read).
"""

import io
import os
import pathlib

from lamina._lazy_modules import h5py
from lamina.saving import file_utils, h5_store


class H5IOStore:
    """Keras-compatible HDF5 variable store.

    Args:
        path_or_io: `str`, `pathlib.Path` or `io.BytesIO`.
        archive: optional open `zipfile.ZipFile`; the HDF5 file is then the
            member named `path_or_io` of the archive.
        mode: `"r"` (default) or `"w"`.

    `make(path, metadata=None)` (write mode) and `get(path)` (read mode) select
    the entry at `path` and return the store itself, as Keras does; the store
    then acts as a dict of that entry's arrays (`store[key]`, `store[key] = v`,
    `del store[key]`, `key in store`, `keys()`, `len()`).
    """

    def __init__(self, path_or_io, archive=None, mode="r"):
        if mode not in ("w", "r"):
            raise ValueError(f"`mode` should be either 'w' or 'r'. Received: {mode}")
        if isinstance(path_or_io, (str, os.PathLike)):
            path_or_io = pathlib.Path(path_or_io)
        elif isinstance(path_or_io, io.BytesIO):
            if archive is not None:
                raise ValueError(
                    "When `path_or_io` is an `io.BytesIO` object, `archive` "
                    "should be `None`."
                )
        else:
            raise TypeError(
                "`path_or_io` should be a `str`, `pathlib.Path` or `io.BytesIO` "
                f"object. Received: path_or_io={path_or_io} of type {type(path_or_io)}."
            )
        self.path_or_io = path_or_io
        self.mode = mode
        self.archive = archive
        self.io_file = None
        self._atomic = None
        self._entry = None
        name = (
            str(path_or_io) if not isinstance(path_or_io, io.BytesIO) else "<BytesIO>"
        )
        if mode == "w":
            if archive is not None:
                self.io_file = io.BytesIO()
                self.h5_file = h5py.File(self.io_file, "w")
            elif isinstance(path_or_io, io.BytesIO):
                self.h5_file = h5py.File(path_or_io, "w")
            else:  # a temporary file next to the target, moved there on close()
                self._atomic = file_utils.atomic_write(path_or_io)
                self.h5_file = h5py.File(self._atomic.__enter__(), "w")
            self._writer = h5_store.H5Writer(self.h5_file)
        else:
            source = path_or_io
            if archive is not None:
                self.io_file = io.BytesIO(archive.read(str(path_or_io)))
                source = self.io_file
            self.h5_file = h5_store.open_h5_for_reading(source, name)
            self._reader = h5_store.H5Reader(self.h5_file, name)

    def __bool__(self):  # not len(): an empty entry must not make the store falsy
        return bool(self.h5_file)

    def make(self, path, metadata=None):
        if self.mode != "w":
            raise ValueError("`make` is only allowed in write mode.")
        if not isinstance(metadata, (dict, type(None))):
            raise ValueError(
                f"`metadata` should be a dict or `None`. Received: {metadata}"
            )
        self._entry = self._writer.make(path, metadata)
        return self

    def get(self, path):
        if self.mode != "r":
            raise ValueError("`get` is only allowed in read mode.")
        self._entry = self._reader.get(path)
        return self

    def has_path(self, path):
        return path in self.h5_file

    def close(self):
        self.h5_file.close()
        if self.mode == "w" and self.archive is not None:
            self.archive.writestr(str(self.path_or_io), self.io_file.getvalue())
        if self._atomic is not None:
            self._atomic.__exit__(None, None, None)
            self._atomic = None
        if self.io_file is not None:
            self.io_file.close()

    # the selected entry, dict-like
    def _current(self):
        if self._entry is None:
            raise ValueError("Call `make(path)` or `get(path)` first.")
        return self._entry

    def __len__(self):
        return 0 if self._entry is None else len(self._entry)

    def keys(self):
        return [] if self._entry is None else list(self._entry.keys())

    def __contains__(self, key):
        return self._entry is not None and key in self._entry

    def __getitem__(self, key):
        return self._current()[key]

    def __setitem__(self, key, value):
        if self.mode != "w":
            raise ValueError("Setting a value is only allowed in write mode.")
        self._current()[key] = value

    def __delitem__(self, key):
        if self.mode != "w":
            raise ValueError("Deleting a value is only allowed in write mode.")
        del self._current().group()[str(key)]
