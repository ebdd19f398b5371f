"""`.safetensors` weights: the `.weights.h5` layout in a safetensors file.

Each variable is one tensor named by its HDF5 path, `layers/dense/vars/0`,
`optimizer/vars/3`, ..., so the same walk over the model writes and reads both
formats, and a file converts to the other by renaming nothing. safetensors
files hold raw tensors and a JSON header only (no code, no pickle); the
optional `safetensors` package reads and writes them.
"""

import os

import numpy as np
import torch

from lamina.saving import file_utils, weights_file

SUFFIX = ".safetensors"

_MISSING = (
    "Saving or loading `.safetensors` weights needs the optional package "
    "safetensors, which is not installed. Install it with "
    '`pip install "lamina[safetensors]"` (or `pip install safetensors`), or use '
    "a `.weights.h5` file."
)

# Recorded in the file's header: which layout the tensor names follow.
_METADATA = {"format": "pt", "layout": "keras.weights.h5"}


def _safetensors():
    try:
        import safetensors
        import safetensors.torch
    except ImportError:
        raise ImportError(_MISSING) from None
    return safetensors


def save_weights(model, filepath, overwrite=True, objects_to_skip=None) -> None:
    """Write `model`'s weights (and optimizer state) to `filepath` atomically."""
    safetensors = _safetensors()
    filepath = os.fspath(filepath)
    weights_file._check_built(model, "save_weights()")
    file_utils.check_overwrite(filepath, overwrite, "save_weights()")
    writer = _Writer()
    weights_file.save_state(model, writer, objects_to_skip)
    with file_utils.atomic_write(filepath) as tmp_path:
        safetensors.torch.save_file(writer.tensors, tmp_path, metadata=_METADATA)


def load_weights(model, filepath, skip_mismatch=False, objects_to_skip=None):
    """Load a `.safetensors` file written by `save_weights` into `model`."""
    safetensors = _safetensors()
    filepath = os.fspath(filepath)
    weights_file._check_built(model, "load_weights()")
    try:
        handle = safetensors.safe_open(filepath, framework="pt", device="cpu")
    except Exception as error:  # the library raises its own error types
        raise ValueError(
            f"Cannot read {filepath!r}: it is not a safetensors file, or it is "
            f"truncated or corrupt ({error})."
        ) from None
    with handle:
        reader = _Reader(handle, filepath)
        weights_file.load_state(model, reader, skip_mismatch, objects_to_skip)


class _Writer:
    """Collects `{"<path>/vars/<key>": tensor}` (the `H5Writer` interface)."""

    def __init__(self):
        self.tensors = {}

    def make(self, path, metadata=None):
        return _WriteEntry(self.tensors, path)


class _WriteEntry:
    def __init__(self, tensors, path):
        self._tensors = tensors
        self.path = path
        self._prefix = f"{path}/vars/" if path else "vars/"

    def __setitem__(self, key, value):
        if isinstance(value, torch.Tensor):
            value = value.detach()
            value = file_utils.whole(value)  # sharded (FSDP): gathered
            tensor = value.cpu().clone().contiguous()
        else:
            array = np.asarray(value)
            if array.dtype.kind not in "biuf":
                raise TypeError(
                    f"The object at '{self.path or '/'}' tried to save a value of "
                    f"dtype {array.dtype}; weights files hold numeric arrays only."
                )
            tensor = torch.from_numpy(np.array(array, order="C", copy=True))
        self._tensors[self._prefix + str(key)] = tensor

    def _own(self):
        return [k for k in self._tensors if k.startswith(self._prefix)]

    def __getitem__(self, key):
        return self._tensors[self._prefix + str(key)].numpy()

    def __contains__(self, key):
        return self._prefix + str(key) in self._tensors

    def keys(self):
        return [k[len(self._prefix) :] for k in self._own()]

    def __len__(self):
        return len(self._own())


class _Reader:
    """The `H5Reader` interface over an open `safe_open` handle."""

    def __init__(self, handle, filename):
        self.filename = filename
        self._handle = handle
        self._groups = {}
        for name in handle.keys():
            path, sep, key = name.rpartition("/vars/")
            if not sep and name.startswith("vars/"):
                path, key = "", name[len("vars/") :]
            elif not sep:
                raise ValueError(
                    f"Cannot read {filename!r}: its tensor {name!r} is not named "
                    "like a lamina/Keras weights path ('layers/dense/vars/0'). "
                    "Was it written by model.save_weights()?"
                )
            self._groups.setdefault(path, {})[key] = name

    def has_path(self, path):
        return path in self._groups or any(
            p.startswith(path + "/") for p in self._groups
        )

    def get(self, path):
        return _ReadEntry(self._handle, self._groups.get(path, {}), path, self)


class _ReadEntry:
    def __init__(self, handle, names, path, reader):
        self._handle = handle
        self._names = names
        self.path = path
        self.filename = reader.filename

    def _name(self, key):
        try:
            return self._names[str(key)]
        except KeyError:
            raise KeyError(
                f"The weights file {self.filename!r} has no variable {key!r} "
                f"under '{self.path or '/'}/vars'."
            ) from None

    def keys(self):
        return sorted(self._names, key=lambda k: (len(k), k))

    def __len__(self):
        return len(self._names)

    def __contains__(self, key):
        return str(key) in self._names

    def __iter__(self):
        return iter(self.keys())

    def shape(self, key):
        return tuple(self._handle.get_slice(self._name(key)).get_shape())

    def __getitem__(self, key):
        tensor = self._handle.get_tensor(self._name(key))
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()  # exact; the variable casts it back
        return tensor.numpy()

    def items(self):
        return [(key, self[key]) for key in self.keys()]
