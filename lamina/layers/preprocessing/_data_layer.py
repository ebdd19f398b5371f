"""`layer.backend` of the data layers, as Keras's `DataLayer` has it.

Keras's `Rescaling`, `Normalization`, `Discretization`, `CategoryEncoding`,
`MelSpectrogram` and every image preprocessing layer carry `self.backend`, the
backend namespace their subclasses compute with (`self.backend.cast(...)`,
`self.backend.numpy.clip(...)`, `self.backend.random.uniform(...)`): KerasHub's
Stable Diffusion 3 rescaling layers and user augmentation layers call it. In
lamina it is a `lamina.backend.dynamic_backend.DynamicBackend`, made on first
use and kept per layer; it is not layer state, config or a submodule.
"""


class DataLayerBackend:
    """Mixin that gives a layer Keras's `DataLayer.backend` attribute."""

    @property
    def backend(self):
        """The `DynamicBackend` this layer's subclasses compute with."""
        backend = self.__dict__.get("_dynamic_backend")
        if backend is None:
            from lamina.backend.dynamic_backend import DynamicBackend

            backend = self.__dict__["_dynamic_backend"] = DynamicBackend()
        return backend

    @backend.setter
    def backend(self, value):
        # Keras's DataLayer assigns it in __init__; a subclass may too.
        self.__dict__["_dynamic_backend"] = value
