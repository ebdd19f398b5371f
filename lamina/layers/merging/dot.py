"""Dot: batched dot product between two tensors."""

import torch
import torch.nn.functional as F

from lamina.layers.merging.base_merge import Merge


class Dot(Merge):
    """Dot product of two batched tensors along `axes`.

    Args:
        axes: Int, or pair of ints: the axis of each input to reduce over (batch
            axis 0 excluded).
        normalize: L2-normalise along `axes` first, giving cosine similarity.

    Example:
    >>> x = np.ones((2, 3), "float32")
    >>> lamina.layers.Dot(axes=1)([x, x]).tolist()
    [[3.0], [3.0]]
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        pair = (axes, axes) if isinstance(axes, int) else axes
        if not (
            isinstance(pair, (list, tuple))
            and len(pair) == 2
            and all(isinstance(a, int) for a in pair)
        ):
            raise ValueError(
                f"Dot expects `axes` to be an int or a pair of ints; got axes={axes!r}."
            )
        # Keras keeps `axes` as given (an int stays an int in the config).
        self.axes = axes
        self._axes_pair = tuple(pair)
        self.normalize = normalize
        # Keras: masks are taken (no warning), and the output carries none.
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"Layer '{self.name}' (Dot) takes exactly 2 inputs; got "
                f"{len(input_shape)}."
            )
        super().build(input_shape)

    def _axes_for(self, rank_a, rank_b):
        return tuple(a % r for a, r in zip(self._axes_pair, (rank_a, rank_b)))

    def _merge_function(self, inputs):
        x, y = inputs
        axis_x, axis_y = self._axes_for(x.ndim, y.ndim)
        if self.normalize:
            x = F.normalize(x, dim=axis_x)
            y = F.normalize(y, dim=axis_y)
        x = x.movedim(axis_x, -1)
        y = y.movedim(axis_y, -1)
        # Contract the chosen axes: batch-wise tensordot over the remaining axes.
        x_rest, y_rest = x.shape[1:-1], y.shape[1:-1]
        out = torch.einsum(
            "bik,bjk->bij",
            x.reshape(x.shape[0], -1, x.shape[-1]),
            y.reshape(y.shape[0], -1, y.shape[-1]),
        )
        out = out.reshape((x.shape[0],) + tuple(x_rest) + tuple(y_rest))
        if out.ndim == 1:
            out = out.unsqueeze(-1)
        return out

    def compute_output_shape(self, input_shape):
        shape_x, shape_y = (list(s) for s in input_shape)
        axis_x, axis_y = self._axes_for(len(shape_x), len(shape_y))
        if (
            shape_x[axis_x] is not None
            and shape_y[axis_y] is not None
            and (shape_x[axis_x] != shape_y[axis_y])
        ):
            raise ValueError(
                f"Layer '{self.name}' (Dot) reduces axis {axis_x} of {tuple(shape_x)} "
                f"against axis {axis_y} of {tuple(shape_y)}, whose sizes differ."
            )
        del shape_x[axis_x]
        del shape_y[axis_y]
        out = tuple(shape_x) + tuple(shape_y[1:])
        return out if len(out) > 1 else out + (1,)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """Functional form of `Dot`: `layers.dot([x1, x2], axes=1)`."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
