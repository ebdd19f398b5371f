"""`DynamicBackend`: what Keras's data layers expose as `layer.backend`.

Keras's preprocessing layers (`Rescaling`, `Resizing`, `Normalization`, the
image augmentation layers, ...) carry `self.backend`, an object whose
attributes are those of the backend module (`keras.src.backend.torch` under
the torch backend): `self.backend.cast(x, dtype)`, `self.backend.shape(x)`,
`self.backend.numpy.clip(...)`, `self.backend.random.uniform(...)`. Code that
subclasses those layers (KerasHub's Stable Diffusion 3 `LatentRescaling`, user
augmentation layers) calls through it. In lamina every name resolves to lamina's
own ops, whatever backend name the object was switched to with `set_backend`
(Keras switches to "tensorflow" inside tf.data pipelines; lamina has one engine).
"""

import importlib

_BACKENDS = ("tensorflow", "jax", "torch", "numpy", "openvino")

# Keras's backend submodules -> the lamina modules with the same functions.
_SUBMODULES = {
    "core": "lamina.ops.core",
    "image": "lamina.ops.image",
    "linalg": "lamina.ops.linalg",
    "math": "lamina.ops.math",
    "nn": "lamina.ops.nn",
    "numpy": "lamina.ops.numpy",
    "random": "lamina.random",
}
# Top-level names of Keras's backend module, looked up in this order.
_TOP_LEVEL = ("lamina.backend", "lamina.ops.core", "lamina.ops")
_FROM_LAMINA = ("Variable", "name_scope")
_FLAGS = {
    "IS_THREAD_SAFE": True,
    "SUPPORTS_SPARSE_TENSORS": False,
    "SUPPORTS_RAGGED_TENSORS": False,
    "SUPPORTS_COMPLEX_DTYPES": True,
}


class DynamicBackend:
    """The backend namespace of a data layer (`layer.backend`).

    Args:
        backend: The backend name it starts with. Defaults to `None`, the
            configured backend (`"torch"`).

    Example:
    >>> from lamina.backend.dynamic_backend import DynamicBackend
    >>> b = DynamicBackend()
    >>> b.name
    'torch'
    >>> b.cast(b.numpy.ones((2,)), "int32").dtype
    torch.int32
    """

    def __init__(self, backend=None):
        self._backend = backend or _configured_backend()

    def set_backend(self, backend):
        """Name another backend (Keras's tf.data switch); computations keep
        running on lamina's ops."""
        if backend not in _BACKENDS:
            raise ValueError(
                "Available backends are ('tensorflow', 'jax', 'torch', "
                f"'numpy' and 'openvino'). Received: backend={backend}"
            )
        self._backend = backend

    def reset(self):
        """Back to the configured backend."""
        self._backend = _configured_backend()

    @property
    def name(self):
        return self._backend

    def __getattr__(self, name):
        if name.startswith("_"):  # (also keeps a half-built copy from recursing)
            raise AttributeError(name)
        if name in _SUBMODULES:
            return importlib.import_module(_SUBMODULES[name])
        if name in _FLAGS:
            return _FLAGS[name]
        if name in _FROM_LAMINA:
            return getattr(importlib.import_module("lamina"), name)
        for module_name in _TOP_LEVEL:
            module = importlib.import_module(module_name)
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(
            f"The '{self._backend}' backend namespace has no attribute {name!r}."
        )

    def __repr__(self):
        return f"<DynamicBackend {self._backend!r}>"


def _configured_backend():
    from lamina.backend.config import backend

    return backend()
