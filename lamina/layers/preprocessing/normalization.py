"""Normalization: shift and scale features to zero mean and unit variance."""

import itertools
import math

import numpy as np
import torch

from lamina import backend
from lamina.layers.layer import Layer
from lamina.layers.preprocessing._data_layer import DataLayerBackend


class Normalization(DataLayerBackend, Layer):
    """Computes `(inputs - mean) / sqrt(variance)` per position along `axis`.

    The statistics are given (`mean`, `variance`) or learned from data with
    `adapt(data)` before training; they are not trained.

    Args:
        axis: Axis or axes that keep separate statistics (the features).
            Defaults to `-1`; `None` means one mean and variance for all
            values.
        mean, variance: Fixed statistics, numbers or arrays broadcast against
            the kept axes. Give both or neither.
        invert: If `True`, undo the normalization:
            `inputs * sqrt(variance) + mean`.

    Without `mean`/`variance` the layer has Keras's three non-trainable
    weights `mean`, `variance` (shaped like the kept axes) and `count` (an
    int32 scalar kept for file compatibility), set by `adapt()`.

    Example:
    >>> layer = lamina.layers.Normalization()
    >>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]], "float32"))
    >>> layer(np.array([[1.0, 20.0]], "float32")).tolist()
    [[0.0, 0.0]]
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            axis = tuple(axis)
        self.axis = axis
        self.input_mean = mean
        self.input_variance = variance
        self.invert = invert
        self.supports_masking = True
        if (mean is None) != (variance is None):
            raise ValueError(
                "Normalization: when setting the statistics directly, both `mean` "
                f"and `variance` must be set; got mean={mean!r} and "
                f"variance={variance!r}."
            )
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(
                    "Normalization needs `mean` and `variance` of the same shape; "
                    f"got {np.shape(mean)} and {np.shape(variance)}."
                )
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(
                    f"Normalization: `mean` of rank {len(np.shape(mean))} cannot "
                    f"broadcast over the {len(self.axis)} kept axes axis={self.axis}."
                )

    def build(self, input_shape):
        if input_shape is None:
            return
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(
                f"Layer '{self.name}' (Normalization) got axis={self.axis} for "
                f"inputs of rank {ndim} (shape {input_shape}). All `axis` values "
                f"must be in the range [-{ndim}, {ndim})."
            )
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for a in self._keep_axis:
            if input_shape[a] is None:
                raise ValueError(
                    f"Layer '{self.name}' (Normalization): All `axis` values to be "
                    f"kept must have known sizes (axis={self.axis}); got input "
                    f"shape {input_shape}."
                )
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(
            input_shape[d] if d in self._keep_axis else 1 for d in range(ndim)
        )
        stats_shape = tuple(input_shape[d] for d in self._keep_axis)
        self._mean_and_var_shape = stats_shape
        self._build_input_shape = input_shape
        if self.input_mean is None:
            # Keras's variables, in Keras's order (files depend on it).
            self.adapt_mean = self.add_weight(
                name="mean", shape=stats_shape, initializer="zeros", trainable=False
            )
            self.adapt_variance = self.add_weight(
                name="variance", shape=stats_shape, initializer="ones", trainable=False
            )
            self.count = self.add_weight(
                name="count",
                shape=(),
                dtype="int32",
                initializer="zeros",
                trainable=False,
            )
        else:
            mean = self._broadcast_given(self.input_mean, ndim)
            variance = self._broadcast_given(self.input_variance, ndim)
            # Buffers follow .to(device) but are not saved (Keras saves nothing).
            self.register_buffer("_given_mean", mean, persistent=False)
            self.register_buffer("_given_variance", variance, persistent=False)
        self.built = True

    def _broadcast_given(self, value, ndim):
        tensor = torch.as_tensor(
            np.asarray(value),
            dtype=self._compute_torch_dtype,
            device=backend.get_device(),
        )
        if tensor.ndim > 0:
            # Align the given dims with the kept axes from the right.
            expanded = [1] * ndim
            for i in range(1, tensor.ndim + 1):
                expanded[self._keep_axis[-i]] = tensor.shape[-i]
            tensor = tensor.reshape(expanded)
        return torch.broadcast_to(tensor, self._broadcast_shape).contiguous()

    @property
    def mean(self):
        """The mean, broadcast to the inputs' rank (None before build)."""
        return self._stats()[0] if self.built else None

    @property
    def variance(self):
        """The variance, broadcast to the inputs' rank (None before build)."""
        return self._stats()[1] if self.built else None

    def _stats(self):
        if self.input_mean is not None:
            return self._given_mean, self._given_variance
        dtype = self._compute_torch_dtype
        return (
            self.adapt_mean.reshape(self._broadcast_shape).to(dtype),
            self.adapt_variance.reshape(self._broadcast_shape).to(dtype),
        )

    def adapt(self, data) -> None:
        """Set `mean` and `variance` from `data`.

        Args:
            data: A NumPy array or tensor (all samples at once), or an iterable
                of batches (a list of arrays, a generator, a `PyDataset`, a
                torch `DataLoader`); an `(x, y, ...)` tuple batch uses `x`.
        """
        if self.input_mean is not None:
            raise ValueError(
                f"Layer '{self.name}' (Normalization) was given mean and variance "
                "at construction, so there is nothing to adapt. Create it without "
                "them to learn the statistics from data."
            )
        batches = None
        if isinstance(data, (np.ndarray, torch.Tensor)):
            shape = tuple(data.shape)
        elif hasattr(data, "__iter__"):
            iterator = iter(data)
            first = next(iterator, None)
            if first is None:
                raise ValueError(
                    "Normalization.adapt() got an empty iterable; pass at least one "
                    "batch, e.g. layer.adapt([x])."
                )
            first = _extract_batch(first)
            if not hasattr(first, "shape"):
                raise TypeError(
                    "Normalization.adapt() expects batches with a `.shape` (NumPy "
                    f"arrays or tensors); got a {type(first).__name__}."
                )
            shape = tuple(first.shape)
            batches = itertools.chain([first], iterator)
        else:
            raise TypeError(
                "Normalization.adapt() expects a NumPy array, a tensor or an "
                f"iterable of batches; got {type(data).__name__}."
            )
        if not self.built:
            self._build_with_shapes(shape)
        else:
            self._check_adapt_shape(shape)
        # 1. The statistics over the reduced axes.
        if isinstance(data, np.ndarray):
            mean = np.mean(data, axis=self._reduce_axis)
            var = np.var(data, axis=self._reduce_axis)
        elif isinstance(data, torch.Tensor):
            tensor = data.to(backend.get_device())
            if not tensor.is_floating_point():
                tensor = tensor.to(self._compute_torch_dtype)
            mean = tensor.mean(dim=self._reduce_axis)
            var = tensor.var(dim=self._reduce_axis, correction=0)
        else:
            mean, var = self._streaming_moments(batches)
        # 2. Stored in the weights (no gradient, in place).
        with torch.no_grad():
            self.adapt_mean.copy_(torch.as_tensor(mean).to(self.adapt_mean))
            self.adapt_variance.copy_(torch.as_tensor(var).to(self.adapt_variance))

    def _streaming_moments(self, batches):
        # Merge per-batch moments with the lack-of-fit sum of squares, as Keras.
        device = backend.get_device()
        total_mean = torch.zeros(self._mean_and_var_shape, device=device)
        total_var = torch.zeros(self._mean_and_var_shape, device=device)
        total_count = 0
        for batch in batches:
            batch = backend.convert_to_tensor(
                _extract_batch(batch), dtype=self.compute_dtype
            )
            self._check_adapt_shape(tuple(batch.shape))
            batch_mean = batch.mean(dim=self._reduce_axis)
            batch_var = batch.var(dim=self._reduce_axis, correction=0)
            count = math.prod(batch.shape[d] for d in self._reduce_axis)
            total_count += count
            weight = float(count) / total_count
            new_mean = total_mean * (1.0 - weight) + batch_mean * weight
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1.0 - weight) + (
                batch_var + (batch_mean - new_mean) ** 2
            ) * weight
            total_mean = new_mean
        return total_mean, total_var

    def _check_adapt_shape(self, shape):
        for d in self._keep_axis:
            if d >= len(shape) or shape[d] != self._build_input_shape[d]:
                raise ValueError(
                    f"Layer '{self.name}' (Normalization) was built for inputs of "
                    f"shape {self._build_input_shape}, but adapt() got data of an "
                    f"incompatible shape {shape}; the kept axes {self.axis} must "
                    "match."
                )

    def call(self, inputs):
        inputs = inputs.to(self._compute_torch_dtype)
        mean, variance = self._stats()
        std = torch.clamp_min(torch.sqrt(variance), backend.epsilon())
        if self.invert:
            return mean + inputs * std
        return (inputs - mean) / std

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "invert": self.invert,
            "mean": np.array(self.input_mean).tolist(),
            "variance": np.array(self.input_variance).tolist(),
        }


def _extract_batch(batch):
    """The inputs of a batch: `x` from an `(x, y, ...)` tuple, else the batch."""
    if isinstance(batch, tuple):
        return batch[0]
    if (
        isinstance(batch, list)
        and batch
        and hasattr(batch[0], "shape")
        and len(batch) in (2, 3)
    ):
        # torch DataLoaders yield [x, y] lists.
        return batch[0]
    return batch
