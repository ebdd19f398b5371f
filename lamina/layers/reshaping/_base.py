"""Shared pieces of the reshaping layers: argument checks and output specs."""

import numpy as np
import torch.nn.functional as F

from lamina import backend
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.input_spec import InputSpec, check_input_spec
from lamina.layers.layer import Layer


class ReshapingLayer(Layer):
    """A weightless layer that only moves, repeats, pads or drops values.

    Its symbolic output keeps the input's dtype (integer inputs stay integers),
    except that float inputs take the compute dtype, as autocast does at run time.
    """

    def compute_output_spec(self, inputs, **kwargs):
        dtype = inputs.dtype
        if backend.is_float_dtype(dtype):
            dtype = self.compute_dtype
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype=dtype)

    def _check_rank(self, inputs):
        """Raise the InputSpec error for inputs of the wrong rank.

        Called from `call` only after a cheap `inputs.ndim != N` test failed, for
        layers whose torch op would otherwise accept any rank silently.
        """
        check_input_spec(
            self.input_spec, tuple(inputs.shape), self.name, type(self).__name__
        )


def standardize_data_format(data_format, who: str) -> str:
    if data_format is None:
        return backend.image_data_format()
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{who} expects data_format 'channels_last' (inputs (batch, ..., "
            "channels)) or 'channels_first' (inputs (batch, channels, ...)); got "
            f"data_format={data_format!r}."
        )
    return value


def _as_int(value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError
    return int(value)


def standardize_tuple(value, n: int, name: str, who: str, allow_zero: bool = False):
    """An int or n ints -> a tuple of n ints (all > 0, or >= 0 with allow_zero)."""
    bound = ">= 0" if allow_zero else "> 0"
    message = (
        f"{who} expects `{name}` to be an int or a tuple of {n} ints, each {bound}; "
        f"got {name}={value!r}."
    )
    try:
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            result = (int(value),) * n
        else:
            result = tuple(_as_int(v) for v in value)
    except TypeError:
        raise ValueError(message) from None
    if len(result) != n or any(v < 0 or (v == 0 and not allow_zero) for v in result):
        raise ValueError(message)
    return result


def standardize_pairs(value, n: int, name: str, who: str):
    """An int, n ints (symmetric) or n pairs -> n `(before, after)` pairs >= 0."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,) * n
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise ValueError(
            f"{who} expects `{name}` to be an int, a tuple of {n} ints or a tuple "
            f"of {n} (before, after) pairs of ints >= 0; got {name}={value!r}."
        )
    if len(value) != n:
        raise ValueError(
            f"{who} expects `{name}` to have {n} entries (one per spatial axis); "
            f"got {name}={value!r}."
        )
    return tuple(
        standardize_tuple(v, 2, f"{name}[{i}]", who, allow_zero=True)
        for i, v in enumerate(value)
    )


def spatial_axes(data_format: str, rank: int) -> list:
    """Indices of the spatial axes of a (batch, ..., channels) tensor of `rank`."""
    if data_format == "channels_first":
        return list(range(2, rank))
    return list(range(1, rank - 1))


class BaseCropping(ReshapingLayer):
    """Crops `(before, after)` values off each spatial axis (a view, no copy)."""

    _rank = None  # spatial rank: 1, 2 or 3

    def _setup(self, cropping, data_format):
        self.cropping = cropping
        self.data_format = data_format
        self._pairs = cropping if self._rank > 1 else (cropping,)
        self._axes = spatial_axes(data_format, self._rank + 2)
        index = [slice(None)] * (self._rank + 2)
        for axis, (before, after) in zip(self._axes, self._pairs):
            index[axis] = slice(before, -after if after else None)
        self._index = tuple(index)
        self.input_spec = InputSpec(ndim=self._rank + 2)

    def call(self, inputs):
        if inputs.ndim != self._rank + 2:
            self._check_rank(inputs)
        shape = inputs.shape
        for axis, (before, after) in zip(self._axes, self._pairs):
            if before + after >= shape[axis]:
                self._raise_too_small(tuple(shape))
        return inputs[self._index]

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (before, after) in zip(self._axes, self._pairs):
            if shape[axis] is not None:
                if before + after >= shape[axis]:
                    self._raise_too_small(tuple(input_shape))
                shape[axis] -= before + after
        return tuple(shape)

    def _raise_too_small(self, shape):
        raise ValueError(
            f"Layer '{self.name}' ({type(self).__name__}) would crop every value "
            f"off an axis: cropping={self.cropping} ({self.data_format}) leaves "
            f"nothing of inputs of shape {shape}. "
            + (
                "`cropping` parameter of `Cropping1D` layer must be smaller than "
                "the input length."
                if self._rank == 1
                else "Values in `cropping` argument should be smaller than the "
                "corresponding spatial dimension of the input."
            )
            + " Each axis must be longer than the sum of its two croppings; crop "
            "less or feed larger inputs."
        )

    def get_config(self):
        config = {**super().get_config(), "cropping": self.cropping}
        if self._rank > 1:
            config["data_format"] = self.data_format
        return config


class BaseZeroPadding(ReshapingLayer):
    """Adds `(before, after)` zeros around each spatial axis (`F.pad`)."""

    _rank = None

    def _setup(self, padding, data_format):
        self.padding = padding
        self.data_format = data_format
        pairs = padding if self._rank > 1 else (padding,)
        axes = spatial_axes(data_format, self._rank + 2)
        # F.pad lists (before, after) from the last axis backwards.
        flat = [0, 0] * (self._rank + 2)
        for axis, (before, after) in zip(axes, pairs):
            position = self._rank + 1 - axis
            flat[2 * position : 2 * position + 2] = [before, after]
        while flat and flat[-2:] == [0, 0]:
            flat = flat[:-2]
        self._pad = tuple(flat)
        self._axes, self._pairs = axes, pairs
        self.input_spec = InputSpec(ndim=self._rank + 2)

    def call(self, inputs):
        if inputs.ndim != self._rank + 2:
            self._check_rank(inputs)
        if not self._pad:
            return inputs
        return F.pad(inputs, self._pad)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (before, after) in zip(self._axes, self._pairs):
            if shape[axis] is not None:
                shape[axis] += before + after
        return tuple(shape)

    def get_config(self):
        return {
            **super().get_config(),
            "padding": self.padding,
            "data_format": self.data_format,
        }


def upsample_nearest(inputs, data_format, factors):
    """Repeat each pixel/voxel `factors[i]` times along spatial axis `i`.

    Float inputs use torch's nearest-exact upsampling kernel, which handles the
    channels_last layout natively (no transposed copy) and equals repetition
    exactly for integer factors; other dtypes (no kernel) repeat by broadcasting.
    Measured on 2 CPU threads, (32, 32, 32, 3) x2: 0.23 ms vs 0.65 ms for the
    broadcast copy and 2.7 ms for Keras's two repeat_interleave copies.
    """
    rank = inputs.ndim
    axes = spatial_axes(data_format, rank)
    if not inputs.is_floating_point():
        return repeat_axes(inputs, axes, list(factors))
    size = [inputs.shape[a] * f for a, f in zip(axes, factors)]
    if data_format == "channels_first":
        return F.interpolate(inputs, size=size, mode="nearest-exact")
    x = F.interpolate(inputs.movedim(-1, 1), size=size, mode="nearest-exact")
    return x.movedim(1, -1)


def repeat_axes(inputs, axes, factors):
    """Repeat each element `factors[i]` times along `axes[i]` (nearest upsampling).

    One broadcast view and one copy, instead of one `repeat_interleave` copy per
    axis.
    """
    shape = list(inputs.shape)
    view, expanded, final = [], [], []
    for axis, size in enumerate(shape):
        view.append(size)
        expanded.append(size)
        if axis in axes:
            factor = factors[axes.index(axis)]
            view.append(1)
            expanded.append(factor)
            final.append(size * factor)
        else:
            final.append(size)
    return inputs.reshape(view).expand(expanded).reshape(final)
