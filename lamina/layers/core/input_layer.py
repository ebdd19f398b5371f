"""InputLayer and Input(): the entry points of a model's graph."""

import numbers
import operator
import warnings

from lamina import backend
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.layer import Layer
from lamina.layers.node import Node


def _sample_shape(shape):
    """`shape` as a tuple of Python ints (NumPy integers accepted) or None."""
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        dims = tuple(None if d is None else operator.index(d) for d in shape)
        if all(d is None or d >= 0 for d in dims):
            return dims
    except TypeError:
        pass
    raise ValueError(
        "Input `shape` must be a tuple of non-negative ints or None, one per axis "
        f"of a sample (e.g. shape=(28, 28, 1)); got shape={shape!r}."
    )


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
                "InputLayer: the `input_shape` argument is deprecated; use "
                "`shape`. (Argument `input_shape` is deprecated. Use `shape` "
                "instead.)",
                stacklevel=2,
            )
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, **kwargs)
        if ragged:
            raise ValueError(
                f"InputLayer '{self.name}': `ragged=True` is not supported; lamina, "
                "like Keras on the torch backend, has no ragged tensors. Pad the "
                "sequences (lamina.utils.pad_sequences) and use a dense input."
            )
        if sparse:
            raise ValueError(
                f"InputLayer '{self.name}': `sparse=True` is not supported in "
                "lamina yet; pass dense arrays."
            )
        if input_tensor is not None:
            batch_shape, dtype = self._check_input_tensor(
                input_tensor, shape, batch_size, batch_shape, dtype
            )
        else:
            if shape is not None and batch_shape is not None:
                raise ValueError(
                    "InputLayer: you cannot pass both `shape` and `batch_shape`; "
                    f"got shape={shape!r}, batch_shape={batch_shape!r}."
                )
            if batch_size is not None and batch_shape is not None:
                raise ValueError(
                    "InputLayer: you cannot pass both `batch_size` and "
                    f"`batch_shape` (which holds the batch size); got "
                    f"batch_size={batch_size!r}, batch_shape={batch_shape!r}."
                )
            if shape is None and batch_shape is None:
                raise ValueError(
                    "InputLayer needs the shape of one sample: pass a `shape` "
                    "argument, e.g. Input(shape=(32,)) for vectors of 32 features; "
                    "got shape=None."
                )
            if batch_shape is None:
                batch_shape = (batch_size,) + _sample_shape(shape)
        self._batch_shape = tuple(batch_shape)
        self._dtype = backend.standardize_dtype(dtype)
        self.sparse = False
        self.ragged = False
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

    def call(self, inputs=None):
        return inputs

    def _check_input_tensor(self, tensor, shape, batch_size, batch_shape, dtype):
        """The batch shape and dtype of an `input_tensor`, which must agree with
        any `shape`, `batch_shape` and `dtype` also given (as in Keras)."""
        if not isinstance(tensor, KerasTensor):
            raise ValueError(
                f"InputLayer '{self.name}': Argument `input_tensor` must be a "
                f"KerasTensor (a symbolic tensor); got {type(tensor).__name__}."
            )
        own = tuple(tensor.shape)
        if batch_size is not None and (not own or own[0] != batch_size):
            raise ValueError(
                f"InputLayer '{self.name}': when providing `input_tensor` of shape "
                f"{own}, you cannot provide an incompatible `batch_size` argument; "
                f"got batch_size={batch_size!r}."
            )
        if shape is not None and _sample_shape(shape) != own[1:]:
            raise ValueError(
                f"InputLayer '{self.name}': when providing `input_tensor` of shape "
                f"{own}, you cannot provide an incompatible `shape` argument; got "
                f"shape={shape!r}."
            )
        if batch_shape is not None and tuple(batch_shape) != own:
            raise ValueError(
                f"InputLayer '{self.name}': when providing `input_tensor` of shape "
                f"{own}, you cannot provide an incompatible `batch_shape` argument; "
                f"got batch_shape={batch_shape!r}."
            )
        if dtype is not None and backend.standardize_dtype(
            dtype
        ) != backend.standardize_dtype(tensor.dtype):
            raise ValueError(
                f"InputLayer '{self.name}': when providing `input_tensor` of dtype "
                f"{tensor.dtype}, you cannot provide an incompatible `dtype` "
                f"argument; got dtype={dtype!r}."
            )
        return own, tensor.dtype

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
