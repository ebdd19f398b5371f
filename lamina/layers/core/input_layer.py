"""InputLayer and Input(): the entry points of a model's graph."""

import warnings

from lamina import backend
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.layer import Layer
from lamina.layers.node import Node


class InputLayer(Layer):
    """Holds a model's symbolic input: its shape (batch axis included) and dtype.

    Args:
        shape: Shape of one sample, e.g. `(32,)`; the batch axis is added.
        batch_size: Fixed batch size, or None.
        dtype: Input dtype. Defaults to `floatx()`.
        batch_shape: Full shape including the batch axis (instead of `shape`).
        name: Defaults to `input_layer`, `input_layer_1`, ...
    """

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        sparse=None,
        ragged=None,
        batch_shape=None,
        input_tensor=None,
        optional=False,
        name=None,
        **kwargs,
    ):
        # Keras 2 spellings, which Keras 3 still takes: `input_shape` (with a
        # deprecation warning) and `batch_input_shape`.
        if "input_shape" in kwargs:
            warnings.warn(
                "InputLayer: the `input_shape` argument is deprecated; use `shape`.",
                stacklevel=2,
            )
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, **kwargs)
        if ragged:
            raise ValueError(
                f"InputLayer '{self.name}': ragged=True is not supported; lamina, "
                "like Keras on the torch backend, has no ragged tensors. Pad the "
                "sequences (lamina.utils.pad_sequences) and use a dense input."
            )
        if sparse:
            raise ValueError(
                f"InputLayer '{self.name}': sparse inputs are not supported in lamina "
                "yet; pass dense arrays."
            )
        if shape is not None and batch_shape is not None:
            raise ValueError(
                "InputLayer takes `shape` or `batch_shape`, not both; got "
                f"shape={shape!r}, batch_shape={batch_shape!r}."
            )
        if batch_shape is None:
            if shape is None:
                raise ValueError(
                    "InputLayer needs the shape of one sample, e.g. Input(shape=(32,)) "
                    "for vectors of 32 features; got shape=None."
                )
            if isinstance(shape, int):
                shape = (shape,)
            if not isinstance(shape, (tuple, list)) or any(
                d is not None and (not isinstance(d, int) or d < 0) for d in shape
            ):
                raise ValueError(
                    "Input `shape` must be a tuple of non-negative ints or None, one "
                    f"per axis of a sample (e.g. shape=(28, 28, 1)); got shape={shape!r}."
                )
            batch_shape = (batch_size,) + tuple(shape)
        self._batch_shape = tuple(batch_shape)
        self._dtype = backend.standardize_dtype(dtype)
        self.optional = optional
        self.built = True
        if input_tensor is None:
            input_tensor = KerasTensor(
                self._batch_shape, dtype=self._dtype, name=self.name
            )
        self.output = input_tensor
        Node(self, (), {}, input_tensor)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def dtype(self):
        return self._dtype

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {
            "batch_shape": self._batch_shape,
            "dtype": self._dtype,
            "sparse": False,
            "ragged": False,
            "name": self.name,
            "optional": self.optional,
        }


def Input(
    shape=None,
    batch_size=None,
    dtype=None,
    sparse=None,
    ragged=None,
    batch_shape=None,
    name=None,
    tensor=None,
    optional=False,
):
    """A symbolic input tensor to start a model from, e.g. `Input(shape=(32,))`.

    `ragged=True` raises a `ValueError`: there are no ragged tensors in lamina.

    Returns:
        A KerasTensor with shape `(batch_size, *shape)`.

    Example:
    >>> lamina.Input(shape=(32,)).shape
    (None, 32)
    """
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        sparse=sparse,
        ragged=ragged,
        batch_shape=batch_shape,
        name=name,
        input_tensor=tensor,
        optional=optional,
    )
    return layer.output
