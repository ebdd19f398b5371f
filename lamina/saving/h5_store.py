"""HDF5 stores in Keras 3's layout: `<path>/vars/0`, `<path>/vars/1`, ...

`H5Writer` creates one `vars` group per saved object (with the object's name as
the `name` attribute, as Keras does) and one dataset per variable. `H5Reader`
opens a file only after checking every link and dataset in it: links to other
places or files, datasets stored outside the file, virtual datasets, non-numeric
dtypes and datasets that declare far more data than the file holds are refused
with an error that names the file and the offending path. h5py never unpickles
anything; only numeric arrays are ever read. Before h5py opens a file, its
global heaps are checked for a collection libhdf5 would read forever
(`check_global_heaps`).
"""

import contextlib
import io
import math
import mmap
import os

import numpy as np
import torch

from lamina._lazy_modules import h5py
from lamina.saving import file_utils

# A dataset that declares more than this many bytes must store at least
# 1/_MAX_EXPANSION of them: an HDF5 "shape bomb" declares terabytes and stores
# nothing (CVE-2026-0897). Keras writes uncompressed data (ratio 1).
DATASET_BOMB_FLOOR_BYTES = 1 << 26  # 64 MiB
DATASET_MAX_EXPANSION = 100
# Bounds on the structure of a weights file (objects and nesting depth).
MAX_OBJECTS = 1_000_000
MAX_DEPTH = 128
# HDF5 reads a chunked dataset chunk by chunk (~10-25 us each): a small
# dataset cut into a million 4-byte chunks takes half a minute to read. More
# than MAX_SMALL_CHUNKS chunks must each hold at least MIN_CHUNK_BYTES.
MAX_SMALL_CHUNKS = 1 << 16
MIN_CHUNK_BYTES = 4096

_NUMERIC_KINDS = "biuf"


def to_numpy(value, owner: str) -> np.ndarray:
    """A numeric NumPy array from a tensor, array or number (bfloat16 kept as raw
    bits, see `_write_dataset`)."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
        value = file_utils.whole(value)  # sharded (FSDP): gathered on every rank
        if value.dtype == torch.bfloat16:
            return value.cpu().view(torch.int16).numpy().view(np.uint16).view("V2")
        return value.cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{owner} tried to save a value of dtype {array.dtype} ({type(value)}); "
            "weights files hold numeric arrays only."
        )
    return array


class H5Writer:
    """Writes `<path>/vars/<key>` datasets into an open `h5py.File`."""

    def __init__(self, h5_file):
        self.h5_file = h5_file

    def make(self, path: str, metadata: dict | None = None) -> "_WriteEntry":
        """The store for the object at `path`; its group is created at once when
        `metadata` is given (Keras creates a `vars` group for every named object,
        even one without variables), else on the first write."""
        entry = _WriteEntry(self.h5_file, path)
        if metadata:
            group = entry.group()
            for key, value in metadata.items():
                group.attrs[key] = value
        return entry


class _WriteEntry:
    """Dict-like store handed to `save_own_variables(store)`."""

    def __init__(self, h5_file, path):
        self._h5_file = h5_file
        self.path = path
        self._group = None

    def group(self):
        if self._group is None:
            name = f"{self.path}/vars" if self.path else "vars"
            self._group = self._h5_file.require_group(name)
        return self._group

    def __setitem__(self, key, value):
        array = to_numpy(value, f"The object at '{self.path or '/'}'")
        group = self.group()
        if array.dtype.kind == "V":  # bfloat16 as raw bits, Keras's convention
            dataset = group.create_dataset(str(key), data=array)
            dataset.attrs["dtype"] = "bfloat16"
        else:
            group.create_dataset(str(key), data=array)

    def __getitem__(self, key):
        return np.asarray(self.group()[str(key)])

    def __contains__(self, key):
        return self._group is not None and str(key) in self._group

    def keys(self):
        return [] if self._group is None else list(self._group.keys())

    def __len__(self):
        return 0 if self._group is None else len(self._group)


class H5Reader:
    """Reads `<path>/vars/<key>` datasets from an `h5py.File` checked at open.

    Args:
        h5_file: An open, readable `h5py.File`.
        filename: What to call the file in error messages.
    """

    def __init__(self, h5_file, filename: str):
        self.h5_file = h5_file
        self.filename = filename
        check_h5_file(h5_file, filename)
        # Keras 2.13 wrote "_layer_checkpoint_dependencies" instead of "layers".
        self._legacy_layers = "_layer_checkpoint_dependencies" in h5_file

    def has_path(self, path: str) -> bool:
        with h5_errors(self.filename):
            return path in self.h5_file

    def get(self, path: str) -> "ReadEntry":
        """The variables saved for the object at `path` (empty if none)."""
        with h5_errors(self.filename):
            return self._get(path)

    def _get(self, path):
        candidates = [path]
        if self._legacy_layers and path.startswith("layers"):
            candidates.append(
                path.replace("layers", "_layer_checkpoint_dependencies", 1)
            )
        for candidate in candidates:
            name = f"{candidate}/vars" if candidate else "vars"
            if name in self.h5_file and isinstance(self.h5_file[name], h5py.Group):
                return ReadEntry([self.h5_file[name]], path, self.filename)
        return ReadEntry([], path, self.filename)


class ReadEntry:
    """Dict-like store handed to `load_own_variables(store)`: `keys()`, `len`,
    `store["0"]` (a NumPy array), `shape("0")`. Variables of one object may be
    spread over several groups (sharded files)."""

    def __init__(self, groups, path, filename):
        self._groups = groups
        self.path = path
        self.filename = filename

    def _find(self, key):
        key = str(key)
        for group in self._groups:
            if key in group:
                return group[key]
        raise KeyError(
            f"The weights file {self.filename!r} has no variable {key!r} under "
            f"'{self.path or '/'}/vars'."
        )

    def keys(self):
        result = []
        for group in self._groups:
            result.extend(group.keys())
        return result

    def __len__(self):
        return sum(len(group) for group in self._groups)

    def __contains__(self, key):
        return any(str(key) in group for group in self._groups)

    def __iter__(self):
        return iter(self.keys())

    def shape(self, key) -> tuple:
        """The shape of a saved variable, without reading its data."""
        return tuple(self._find(key).shape)

    def __getitem__(self, key) -> np.ndarray:
        dataset = self._find(key)
        where = f"'{self.path or '/'}/vars/{key}'"
        if dataset.dtype.kind == "V":  # bfloat16 raw bits -> float32, exactly
            bits = read_dataset(dataset, where, self.filename)
            return (bits.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        return read_dataset(dataset, where, self.filename)

    def items(self):
        return [(key, self[key]) for key in self.keys()]


def open_h5_for_reading(source, filename: str, kind: str = "file"):
    """`h5py.File(source, "r")`, or a ValueError naming `filename` when it is
    not an HDF5 `kind` (`"file"`, `"weights file"`), is truncated, or holds a
    global heap that libhdf5 would loop on forever (`check_global_heaps`)."""
    if isinstance(source, (str, os.PathLike)) and not os.path.exists(source):
        raise FileNotFoundError(f"No such file: {filename!r}.")
    check_global_heaps(source, filename)
    try:
        return h5py.File(source, "r")
    except OSError as error:
        raise ValueError(
            f"Cannot read {filename!r}: it is not an HDF5 {kind}, or it is "
            f"truncated or corrupt ({error})."
        ) from None


def check_global_heaps(source, filename: str) -> None:
    """Refuse a file with a global heap collection that libhdf5 would read
    forever, before h5py opens it.

    HDF5 keeps variable-length data (h5py's string attributes, such as a
    weights file's `name` attributes) in "GCOL" collections. libhdf5 (2.0.0,
    bundled with h5py 3.16) walks a collection's objects by their stored
    sizes; a free-space object (index 0) of size 0, one flipped bit away from
    a valid file, leaves the walk where it is, and the read never returns
    (nor can it be interrupted). The walk is repeated here on the raw bytes.

    Args:
        source: A path, or a seekable binary file object (its position is
            kept).
        filename: The name used in the error.

    Raises:
        ValueError: naming `filename` and the collection's offset.
    """
    if isinstance(source, (str, os.PathLike)):
        try:
            f = open(source, "rb")  # noqa: SIM115 (closed below)
        except OSError:
            return  # a folder, or unreadable: h5py reports it
        with f:
            if os.fstat(f.fileno()).st_size == 0:
                return  # h5py refuses it
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                _check_heaps_in(data, filename)
        return
    if isinstance(source, io.BytesIO):
        _check_heaps_in(source.getvalue(), filename)  # no copy
        return
    if not all(callable(getattr(source, m, None)) for m in ("read", "seek", "tell")):
        return
    position = source.tell()
    try:
        source.seek(0)
        data = source.read()
    finally:
        source.seek(position)
    _check_heaps_in(data, filename)


def _check_heaps_in(data, filename):
    """`data`: the file's bytes (`bytes` or an `mmap`)."""
    # The superblock's "size of lengths" (byte 14 in versions 0-1, byte 10 in
    # 2-3) sizes the collection and object size fields; h5py writes 8.
    lengths = 8
    if data[:8] == b"\x89HDF\r\n\x1a\n" and len(data) >= 16:
        lengths = data[14] if data[8] < 2 else data[10]
    if lengths not in (2, 4, 8):
        return  # libhdf5 refuses the superblock itself
    # The signature and version 1 (libhdf5 refuses other versions itself).
    address = data.find(b"GCOL\x01")
    while address != -1:
        _check_heap(data, address, lengths, filename)
        address = data.find(b"GCOL\x01", address + 1)


def _check_heap(data, address, lengths, filename):
    # Collection: "GCOL", version 1, 3 reserved bytes, its size (header
    # included). Object: index (2 bytes), reference count (2), 4 reserved
    # bytes, size; its data padded to 8 bytes. An object of index 0 is the
    # free space, whose size counts its header and is not padded. The
    # collection header and an object header have the same size.
    header_size = 8 + lengths
    if address + header_size > len(data):
        return  # not a collection: HDF5 fails to read it
    size = int.from_bytes(data[address + 8 : address + header_size], "little")
    if size <= header_size or size > len(data) - address:
        return  # HDF5 fails to read it (an error, not a loop)
    wrap = 1 << 64  # libhdf5 adds the sizes to a 64-bit pointer
    p = header_size
    while p < size:
        if p + header_size > size:
            break  # a tail too small for an object header: free space
        at = address + p
        index = int.from_bytes(data[at : at + 2], "little")
        object_size = int.from_bytes(data[at + 8 : at + header_size], "little")
        if index > 0:
            need = (header_size + ((object_size + 7) & ~7)) % wrap
        else:
            need = object_size % wrap
        if need == 0 or need >= wrap // 2:
            raise ValueError(
                f"Refusing to load {filename!r}: the HDF5 global heap at byte "
                f"{address} holds an object of size {object_size} at byte "
                f"{at}, which HDF5 would read forever. The file is corrupt."
            )
        p += need


def read_dataset(dataset, where: str, filename: str) -> np.ndarray:
    """The data of a checked dataset, or a ValueError naming `filename` and
    `where` when HDF5 cannot read it (a corrupt or truncated file)."""
    try:
        return np.asarray(dataset[()])
    except (OSError, RuntimeError) as error:
        raise ValueError(
            f"Cannot read dataset {where} of {filename!r}: the file is corrupt "
            f"or truncated ({error})."
        ) from None


def check_h5_file(h5_file, filename: str) -> None:
    """Refuse an HDF5 file holding anything but groups and numeric datasets.

    Raises:
        ValueError: naming `filename`, the path inside it, and what is wrong
            (also when HDF5 itself fails to read the structure: a corrupt file).
    """
    with h5_errors(filename):
        _check_h5_tree(h5_file, filename)


@contextlib.contextmanager
def h5_errors(filename: str):
    """Re-raise what HDF5 raises on a damaged file (OSError, RuntimeError, a
    KeyError for an object it cannot open, a UnicodeDecodeError for a garbled
    name) as a ValueError naming `filename`. Wrap only h5py calls: other
    errors of those types would be renamed too."""
    try:
        yield
    except (OSError, RuntimeError, KeyError, UnicodeError) as error:
        raise ValueError(
            f"Cannot read {filename!r}: its HDF5 structure is corrupt or "
            f"truncated ({type(error).__name__}: {error})."
        ) from None


def _check_h5_tree(h5_file, filename):
    count = 0
    seen = set()
    stack = [(h5_file, "", 0)]
    while stack:
        group, group_path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(
                f"Refusing to load {filename!r}: groups are nested more than "
                f"{MAX_DEPTH} deep at '{group_path}'. This is not a weights file."
            )
        for name in group:
            count += 1
            if count > MAX_OBJECTS:
                raise ValueError(
                    f"Refusing to load {filename!r}: it holds more than "
                    f"{MAX_OBJECTS} objects. This is not a weights file."
                )
            path = f"{group_path}/{name}"
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise ValueError(
                    f"Refusing to load {filename!r}: '{path}' is a "
                    f"{type(link).__name__}. Links to other places or files are "
                    "not allowed in weights files (they can read data from "
                    "elsewhere on this machine)."
                )
            obj = group.get(name)
            if isinstance(obj, h5py.Group):
                if obj.id in seen:
                    continue
                seen.add(obj.id)
                stack.append((obj, path, depth + 1))
            elif isinstance(obj, h5py.Dataset):
                _check_dataset(obj, path, filename)
            else:
                raise ValueError(
                    f"Refusing to load {filename!r}: '{path}' is a "
                    f"{type(obj).__name__}; weights files hold only groups and "
                    "numeric datasets."
                )


def _check_dataset(dataset, path, filename):
    def refuse(reason):
        raise ValueError(f"Refusing to load {filename!r}: dataset '{path}' {reason}.")

    if dataset.shape is None:
        refuse("has no dataspace")
    if dataset.external:
        refuse("stores its data in external files")
    if dataset.is_virtual:
        refuse("is a virtual dataset (it maps data from other files)")
    try:
        dtype = dataset.dtype
    except (TypeError, ValueError) as error:  # h5py cannot map the stored type
        refuse(f"has a data type that cannot be read ({error})")
    is_bfloat16 = (
        dtype.kind == "V"
        and dtype.itemsize == 2
        and dtype.names is None
        and _attr_text(dataset, "dtype") == "bfloat16"
    )
    # torch has no float wider than 64 bits (NumPy's longdouble).
    if (
        dtype.kind not in _NUMERIC_KINDS or (dtype.kind == "f" and dtype.itemsize > 8)
    ) and not is_bfloat16:
        refuse(
            f"has dtype {dtype}; weights files hold only numeric arrays (bool, "
            "int, float up to 64 bits, bfloat16)"
        )
    chunks = dataset.chunks
    if chunks:
        count = math.prod(
            -(-size // chunk) for size, chunk in zip(dataset.shape, chunks)
        )
        chunk_bytes = math.prod(chunks) * dtype.itemsize
        if count > MAX_SMALL_CHUNKS and chunk_bytes < MIN_CHUNK_BYTES:
            refuse(
                f"is cut into {count} chunks of {chunk_bytes} bytes; refusing a "
                f"dataset that would take minutes to read (more than "
                f"{MAX_SMALL_CHUNKS} chunks must hold {MIN_CHUNK_BYTES} bytes each)"
            )
    declared = math.prod(dataset.shape) * dtype.itemsize
    stored = dataset.id.get_storage_size()
    if (
        declared > DATASET_BOMB_FLOOR_BYTES
        and declared > DATASET_MAX_EXPANSION * stored
    ):
        refuse(
            f"declares {declared} bytes but stores only {stored}; refusing a "
            "possible decompression or shape bomb"
        )


def _attr_text(obj, name):
    value = obj.attrs.get(name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None
