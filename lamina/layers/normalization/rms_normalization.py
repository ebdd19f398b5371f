"""RMSNormalization: divide by the root mean square over the feature axes."""

import torch
import torch.nn.functional as F

from lamina.layers.layer import Layer
from lamina.layers.normalization.layer_normalization import (
    _check_axis_argument,
    _resolve_axes,
)

_HALF = (torch.float16, torch.bfloat16)


class RMSNormalization(Layer):
    """Root mean square normalization (Zhang & Sennrich, 2019):
    `x * rsqrt(mean(x**2, axis) + epsilon) * scale`, with no centering.

    Args:
        axis: Int or list of ints, the axes to normalize over. Defaults to `-1`.
        epsilon: Added to the mean square before the square root. Defaults to
            `1e-6`.

    The learned `scale` (initialized to ones) is shaped like the normalized
    axes. Input: any shape with known sizes on `axis`; output: the same shape
    and dtype (the arithmetic runs in at least float32).

    Example:
    >>> layer = lamina.layers.RMSNormalization(epsilon=0.0)
    >>> out = layer(np.array([[3.0, 4.0]], "float32"))
    >>> [round(v, 4) for v in out[0].tolist()]
    [0.8485, 1.1314]
    """

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axis_argument("RMSNormalization", axis)
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)):
            raise TypeError(
                "RMSNormalization expects `epsilon` to be a float; got "
                f"epsilon={epsilon!r}."
            )
        self.epsilon = epsilon

    def build(self, input_shape):
        axes = _resolve_axes(self, input_shape)
        # Keras keeps the axes as a list once built (visible in the config).
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        self._axes = axes
        rank = len(input_shape)
        self._trailing = axes == list(range(rank - len(axes), rank))
        self.scale = self.add_weight(
            name="scale",
            shape=tuple(input_shape[a] for a in axes),
            initializer="ones",
        )

    def call(self, x):
        dtype = x.dtype
        x = x.float() if dtype in _HALF else x
        scale = self.scale.to(x.dtype)
        if self._trailing:
            out = F.rms_norm(x, tuple(scale.shape), scale, self.epsilon)
        else:
            shape = [1] * x.ndim
            for a in self._axes:
                shape[a] = x.shape[a]
            mean_square = torch.mean(x * x, dim=self._axes, keepdim=True)
            out = x * torch.rsqrt(mean_square + self.epsilon) * scale.reshape(shape)
        return out.to(dtype)

    def compute_output_shape(self, input_shape):
        _resolve_axes(self, input_shape, need_sizes=False)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
