"""Reshape: give each sample a new shape with the same number of values."""

import math

import numpy as np

from lamina.layers.reshaping._base import ReshapingLayer


class Reshape(ReshapingLayer):
    """Reshapes each sample to `target_shape`; the batch axis is kept.

    Args:
        target_shape: Tuple of ints, the new shape of one sample (batch axis
            excluded). One entry may be `-1`: it is inferred from the input size.

    Input shape `(batch, ...)` with as many values per sample as `target_shape`;
    output shape `(batch, *target_shape)`. The result is a view when the input
    memory allows it (`torch.reshape`).

    Example:
    >>> tuple(lamina.layers.Reshape((3, -1))(np.ones((2, 12), "float32")).shape)
    (2, 3, 4)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, (int, np.integer)) or not hasattr(
            target_shape, "__iter__"
        ):
            raise TypeError(
                "Reshape expects `target_shape` to be a tuple of ints (the shape "
                f"of one sample, batch axis excluded); got target_shape="
                f"{target_shape!r}. For flat vectors of 12 values write "
                "Reshape((12,))."
            )
        target_shape = tuple(
            int(d) if isinstance(d, (int, np.integer)) else d for d in target_shape
        )
        bad = [
            d
            for d in target_shape
            if d is not None and (not isinstance(d, int) or isinstance(d, bool))
        ]
        unknown = sum(1 for d in target_shape if d is None or d == -1)
        if bad or any(d is not None and d < -1 for d in target_shape) or unknown > 1:
            raise ValueError(
                "Reshape expects `target_shape` to hold sizes >= 0 (each a "
                "non-negative integer) and at most one unknown dimension (-1, a "
                "size to infer); got "
                f"target_shape={target_shape!r}."
            )
        self.target_shape = target_shape
        # torch.reshape infers -1; Keras also treats a None entry as unknown.
        self._torch_shape = tuple(-1 if d is None else d for d in target_shape)
        self.built = True

    def call(self, inputs):
        try:
            return inputs.reshape((inputs.shape[0],) + self._torch_shape)
        except RuntimeError:
            self._raise_size_mismatch(tuple(inputs.shape))

    def compute_output_shape(self, input_shape):
        batch, rest = input_shape[0], tuple(input_shape[1:])
        if None in rest or None in self.target_shape:
            return (batch, *(None if d == -1 else d for d in self.target_shape))
        size = math.prod(rest)
        if -1 not in self.target_shape:
            if size != math.prod(self.target_shape):
                self._raise_size_mismatch(tuple(input_shape))
            return (batch, *self.target_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if known == 0 or size % known:
            self._raise_size_mismatch(tuple(input_shape))
        return (batch, *(size // known if d == -1 else d for d in self.target_shape))

    def _raise_size_mismatch(self, input_shape):
        rest = input_shape[1:]
        size = math.prod(rest) if None not in rest else "an unknown number of"
        if -1 in self._torch_shape:
            known = math.prod(d for d in self._torch_shape if d != -1)
            target = f"a multiple of {known} values (the sizes other than -1)"
        else:
            target = f"{math.prod(self.target_shape)} values"
        raise ValueError(
            f"Layer '{self.name}' (Reshape) cannot reshape inputs of shape "
            f"{input_shape} ({size} values per sample) to target_shape="
            f"{self.target_shape}, which needs {target} per sample. Use a "
            "target_shape with the same total size, or -1 for one axis to infer it."
        )

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}
