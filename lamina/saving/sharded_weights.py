"""Sharded weights: `save_weights("m.weights.json", max_shard_size=GB)`.

As Keras 3 writes them: the variables go, in the usual walk order, into
`m_00000.weights.h5`, `m_00001.weights.h5`, ... (a new file when the next
variable would push the current one past `max_shard_size` GB), and
`m.weights.json` maps each `/<path>/vars` group to the shard file(s) holding
it: `{"metadata": {"total_size": bytes}, "weight_map": {...}}`.
"""

import contextlib
import json
import os
import re
import warnings

from lamina._lazy_modules import h5py
from lamina.saving import file_utils, weights_file
from lamina.saving.h5_store import (
    H5Writer,
    ReadEntry,
    check_global_heaps,
    check_h5_file,
    to_numpy,
)

_SHARD_NAME = re.compile(r"^[^/\\]+_\d{5}\.weights\.h5$")
_MAX_INDEX_BYTES = 1 << 26


class _ShardedWriter:
    """`make(path, metadata)` stores that switch files as shards fill up."""

    def __init__(self, folder, base, max_bytes):
        self.folder = folder
        self.base = base
        self.max_bytes = max_bytes
        self.weight_map = {}
        self.total_size = 0.0
        self.shards = []  # [(final name, temporary path)]
        self.current_size = 0.0
        self.h5_file = None
        self._new_shard()

    def _new_shard(self):
        if self.h5_file is not None:
            self.h5_file.close()
        name = f"{self.base}_{len(self.shards):05}.weights.h5"
        fd, tmp_path = _mkstemp(self.folder, name)
        os.close(fd)
        self.shards.append((name, tmp_path))
        self.h5_file = h5py.File(tmp_path, "w")
        self.current_size = 0.0

    def make(self, path, metadata=None):
        return _ShardedEntry(self, path, metadata)

    def write(self, path, key, value):
        array = to_numpy(value, f"The object at '{path or '/'}'")
        size = float(array.nbytes)
        if size > self.max_bytes:
            raise ValueError(
                f"Variable {key!r} of '{path or '/'}' is {int(size)} bytes, more than "
                f"max_shard_size ({int(self.max_bytes)} bytes). Increase "
                "max_shard_size."
            )
        self.total_size += size
        self.current_size += size
        if self.current_size > self.max_bytes:
            self._new_shard()
            self.current_size = size
        entry = H5Writer(self.h5_file).make(path)
        entry[key] = array
        group_name = entry.group().name
        shard = self.shards[-1][0]
        known = self.weight_map.get(group_name)
        if known is None:
            self.weight_map[group_name] = shard
        else:
            known = known if isinstance(known, list) else [known]
            if shard not in known:
                known.append(shard)
            self.weight_map[group_name] = known

    def close(self):
        if self.h5_file is not None:
            self.h5_file.close()
            self.h5_file = None

    def discard(self):
        self.close()
        for _, tmp_path in self.shards:
            with contextlib.suppress(OSError):
                os.remove(tmp_path)


class _ShardedEntry:
    def __init__(self, writer, path, metadata):
        self._writer = writer
        self.path = path
        if metadata:
            group = H5Writer(writer.h5_file).make(path, metadata).group()
            del group  # created in the current shard, as Keras does

    def __setitem__(self, key, value):
        self._writer.write(self.path, str(key), value)


def _mkstemp(folder, name):
    import tempfile

    return tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)


def _index_path(filepath):
    if filepath.endswith(".weights.json"):
        return filepath
    if filepath.endswith(".weights.h5"):
        new_path = filepath[: -len(".h5")] + ".json"
        warnings.warn(
            f"Sharded weights are indexed by a `.weights.json` file: saving to "
            f"{new_path!r} instead of {filepath!r}.",
            stacklevel=4,
        )
        return new_path
    raise ValueError(
        "With max_shard_size, save_weights() needs a filename ending in "
        f"`.weights.json`; got filepath={filepath!r}."
    )


def save_sharded_weights(
    model, filepath, overwrite, max_shard_size, objects_to_skip=None
) -> None:
    """Write `model`'s weights as Keras 3 shards plus a `.weights.json` index."""
    if not isinstance(max_shard_size, (int, float)) or max_shard_size <= 0:
        raise ValueError(
            f"max_shard_size must be a positive number of GB; got {max_shard_size!r}."
        )
    index_path = os.path.abspath(_index_path(os.fspath(filepath)))
    weights_file._check_built(model, "save_weights()")
    file_utils.check_overwrite(index_path, overwrite, "save_weights()")
    folder = os.path.dirname(index_path)
    base = os.path.basename(index_path)[: -len(".weights.json")]
    writer = _ShardedWriter(folder, base, float(max_shard_size) * 1024**3)
    try:
        weights_file.save_state(model, writer, objects_to_skip)
        writer.close()
        index = {
            "metadata": {"total_size": writer.total_size},
            "weight_map": writer.weight_map,
        }
        for name, tmp_path in writer.shards:
            os.chmod(tmp_path, file_utils._default_file_mode())
            os.replace(tmp_path, os.path.join(folder, name))
        with file_utils.atomic_write(index_path) as tmp_path:
            with open(tmp_path, "w") as f:
                json.dump(index, f, indent=4)
    except BaseException:
        writer.discard()
        raise


class _ShardedReader:
    def __init__(self, files, weight_map, filename):
        self._files = files
        self._weight_map = weight_map
        self.filename = filename

    def has_path(self, path):
        key = f"/{path}"
        return any(k == key or k.startswith(key + "/") for k in self._weight_map)

    def get(self, path):
        key = f"/{path}/vars" if path else "/vars"
        names = self._weight_map.get(key, [])
        names = names if isinstance(names, list) else [names]
        groups = [self._files[name][key] for name in names]
        return ReadEntry(groups, path, self.filename)


def load_sharded_weights(model, filepath, skip_mismatch=False, objects_to_skip=None):
    """Load weights written by `save_sharded_weights` (lamina or Keras 3)."""
    index_path = os.fspath(filepath)
    if os.path.getsize(index_path) > _MAX_INDEX_BYTES:
        raise ValueError(f"Cannot load {index_path!r}: the index is too large.")
    try:
        with open(index_path) as f:
            index = json.load(f)
        weight_map = index["weight_map"]
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise ValueError(
            f"Cannot load {index_path!r}: not a sharded weights index ({error})."
        ) from None
    if not isinstance(weight_map, dict):
        raise ValueError(
            f"Cannot load {index_path!r}: its 'weight_map' must map group paths "
            f"to shard file names; got a {type(weight_map).__name__}."
        )
    folder = os.path.dirname(os.path.abspath(index_path))
    names = set()
    for key, value in weight_map.items():
        value = value if isinstance(value, list) else [value]
        for name in value:
            if not isinstance(name, str) or not _SHARD_NAME.match(name) or ".." in name:
                raise ValueError(
                    f"Cannot load {index_path!r}: shard name {name!r} (for {key!r}) "
                    "is not a plain `<name>_NNNNN.weights.h5` file name in the same "
                    "folder."
                )
            names.add(name)
    with contextlib.ExitStack() as stack:
        files = {}
        for name in sorted(names):
            shard_path = os.path.join(folder, name)
            try:
                if os.path.isfile(shard_path):
                    check_global_heaps(shard_path, shard_path)
                h5_file = stack.enter_context(h5py.File(shard_path, "r"))
            except OSError as error:
                raise ValueError(
                    f"Cannot load {index_path!r}: shard {name!r} is missing or "
                    f"unreadable ({error})."
                ) from None
            check_h5_file(h5_file, shard_path)
            files[name] = h5_file
        for key, value in weight_map.items():
            for name in value if isinstance(value, list) else [value]:
                if key not in files[name] or not isinstance(
                    files[name][key], h5py.Group
                ):
                    raise ValueError(
                        f"Cannot load {index_path!r}: shard {name!r} has no group "
                        f"{key!r}."
                    )
        reader = _ShardedReader(files, weight_map, index_path)
        weights_file.load_state(model, reader, skip_mismatch, objects_to_skip)
