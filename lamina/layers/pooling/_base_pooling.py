"""BasePooling: windowed max / average pooling shared by the pooling layers."""

import itertools
import math

import torch
import torch.nn.functional as F

from lamina.layers.convolutional import _conv_utils as U
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer
from lamina.layers.pooling import _opaque_max_pool

_MAX_OPS = {1: F.max_pool2d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_OPS = {1: F.avg_pool2d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _compiling_with_grad(x):
    """True inside a torch.compile graph that differentiates through a CPU `x`:
    max pooling then goes through opaque ATen operators (see
    `_opaque_max_pool`: inductor's CPU backward is a scatter); a compiled
    forward-only pass fuses it well. On GPUs torch's own lowering is kept (the
    CPU measurements say nothing about it)."""
    return (
        x.device.type == "cpu"
        and torch.compiler.is_compiling()
        and torch.is_grad_enabled()
        and x.requires_grad
    )


# Below this many input elements torch's pooling kernel is quicker than the
# few Python-level ops of `_tiled_max`.
_TILED_MAX_MIN_SIZE = 1 << 16


def _tiled_max(x, pool):
    """Max pooling of a torch-layout tensor `(batch, channels, *spatial)` with
    windows of size `pool`, strides equal to `pool` and no padding: the
    element-wise maximum of the `prod(pool)` strided views that each hold one
    position of every window (trailing rows that fill no window are dropped).

    Same values as `F.max_pool2d` (NaN included), but without the int64 index
    tensor it always computes: 2x2 pooling of a 1024 x 26 x 26 x 32
    channels_last tensor takes 17 ms instead of 31 ms, of a contiguous NCHW
    one 35 ms instead of 118 ms (one thread). Used where no gradient is
    recorded: `max_pool2d`'s backward routes each gradient to one element of
    a tie, `torch.maximum`'s splits it.
    """
    ends = [size // p * p for size, p in zip(x.shape[2:], pool)]
    views = [
        x[(slice(None), slice(None)) + tuple(map(slice, offsets, ends, pool))]
        for offsets in itertools.product(*(range(p) for p in pool))
    ]
    result = torch.maximum(views[0], views[1])
    for view in views[2:]:
        torch.maximum(result, view, out=result)
    return result


class BasePooling(Layer):
    """Slides a `pool_size` window over the spatial axes with `strides` and keeps
    each window's maximum (`pool_mode="max"`) or mean (`"average"`).

    Each 1D/2D/3D subclass sets `rank` (the number of spatial axes) and
    `pool_mode` (`"max"` or `"average"`).

    Args:
        pool_size: Int or tuple of `rank` ints, the window size.
        strides: Int or tuple of ints. Defaults to `None` (= `pool_size`).
        padding: `"valid"` (windows inside the input) or `"same"` (output size
            `ceil(input / stride)`; the extra padding of an odd total goes
            right/bottom). As in Keras/TF, padded positions never count: a max
            ignores them and a mean divides by the number of real elements.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.
    """

    rank = None
    pool_mode = None

    def __init__(
        self,
        pool_size,
        strides=None,
        padding="valid",
        data_format=None,
        name=None,
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        who = type(self).__name__
        rank = self.rank
        self.pool_size = U.standardize_tuple(pool_size, rank, "pool_size", who)
        self.strides = U.standardize_tuple(
            pool_size if strides is None else strides, rank, "strides", who
        )
        self.padding = U.standardize_padding(padding, who)
        self.data_format = U.standardize_data_format(data_format, who)
        self.input_spec = InputSpec(ndim=rank + 2)
        self._torch_pool = U.lift(self.pool_size, rank, 1)
        self._torch_strides = U.lift(self.strides, rank, 1)
        self._op = (_MAX_OPS if self.pool_mode == "max" else _AVG_OPS)[rank]
        # Non-overlapping max windows of 2 to 4 elements (2x2, the usual case)
        # may be taken as element-wise maxima of strided views (see call).
        self._tiled_max = (
            self.pool_mode == "max"
            and self.strides == self.pool_size
            and 2 <= math.prod(self.pool_size) <= 4
        )
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    @property
    def _who(self):
        return f"Layer '{self.name}' ({type(self).__name__})"

    def call(self, inputs):
        U.check_rank(self, inputs)
        x = U.to_torch_layout(inputs, self.rank, self.data_format)
        pads = U.spatial_pads(
            x, self.rank, self.pool_size, self.strides, (1,) * self.rank, self.padding
        )
        if (
            self._tiled_max
            # Traced (torch.compile, export): a size test would become a guard
            # on the batch size, and the compiler fuses the pooling anyway.
            and not torch.compiler.is_compiling()
            and x.device.type == "cpu"  # measured there; cuDNN pools well
            and not any(left or right for left, right in pads)
            and not (torch.is_grad_enabled() and x.requires_grad)
            and x.numel() >= _TILED_MAX_MIN_SIZE
        ):
            outputs = _tiled_max(x, self._torch_pool)
        elif all(left == right for left, right in pads):
            padding = tuple(left for left, _ in pads)
            if self.pool_mode == "max" and _compiling_with_grad(x):
                outputs = _opaque_max_pool.max_pool(
                    x, self._torch_pool, self._torch_strides, padding
                )
            elif self.pool_mode == "max":
                outputs = self._op(x, self._torch_pool, self._torch_strides, padding)
            else:
                # count_include_pad=False: Keras/TF divide by the real elements.
                outputs = self._op(
                    x,
                    self._torch_pool,
                    self._torch_strides,
                    padding,
                    count_include_pad=False,
                )
        elif self.pool_mode == "max":
            x, _ = U.pad_for_torch(x, pads, value=U.lowest(x.dtype))
            if _compiling_with_grad(x):
                no_padding = (0,) * len(self._torch_pool)
                outputs = _opaque_max_pool.max_pool(
                    x, self._torch_pool, self._torch_strides, no_padding
                )
            else:
                outputs = self._op(x, self._torch_pool, self._torch_strides)
        else:
            outputs = self._average_with_uneven_padding(x, pads)
        if outputs.dtype != x.dtype:
            # CPU autocast (mixed policies) runs 3D pooling in float32; Keras
            # returns the compute dtype.
            outputs = outputs.to(x.dtype)
        return U.from_torch_layout(outputs, self.rank, self.data_format)

    def _average_with_uneven_padding(self, x, pads):
        # torch pads symmetrically only: pad zeros, average over the whole
        # window, then rescale by window size / real elements (the fraction of
        # real elements is the same average taken over a padded block of ones).
        ones = x.new_ones((1, 1) + tuple(x.shape[2:]))
        padded, _ = U.pad_for_torch(x, pads)
        padded_ones, _ = U.pad_for_torch(ones, pads)
        sums = self._op(padded, self._torch_pool, self._torch_strides)
        real = self._op(padded_ones, self._torch_pool, self._torch_strides)
        return sums / real

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        channels = input_shape[-1 if self.data_format == "channels_last" else 1]
        return U.conv_output_shape(
            input_shape,
            channels,
            self.rank,
            self.pool_size,
            self.strides,
            self.padding,
            self.data_format,
            (1,) * self.rank,
            self._who,
        )

    def _explain_failure(self, error, args):
        super()._explain_failure(error, args)
        if args and hasattr(args[0], "shape"):
            self.compute_output_shape(tuple(args[0].shape))

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "padding": self.padding,
            "strides": self.strides,
            "data_format": self.data_format,
        }
