"""UpSampling2D: enlarge images by integer factors."""

import torch
import torch.nn.functional as F

from lamina.layers.input_spec import InputSpec
from lamina.layers.reshaping._base import (
    ReshapingLayer,
    spatial_axes,
    standardize_data_format,
    standardize_tuple,
    upsample_nearest,
)

# Keras on PyTorch resizes with F.interpolate; lanczos has no torch kernel there.
_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


class UpSampling2D(ReshapingLayer):
    """Enlarges images `size[0]` times in height and `size[1]` times in width.

    Args:
        size: Int or `(height_factor, width_factor)`, positive. Defaults to
            `(2, 2)`.
        data_format: `"channels_last"` (`(batch, H, W, C)`, the default from
            `image_data_format()`) or `"channels_first"` (`(batch, C, H, W)`).
        interpolation: `"nearest"` (repeat pixels, the default), `"bilinear"` or
            `"bicubic"` (`F.interpolate` with `align_corners=False`, as Keras's
            PyTorch backend resizes). Keras's `"lanczos3"`/`"lanczos5"` are not
            available on PyTorch, in Keras either.

    Output shape: height and width multiplied by the factors.

    Example:
    >>> x = np.array([[[[1.0], [2.0]]]], "float32")  # (1, 1, 2, 1)
    >>> lamina.layers.UpSampling2D((1, 2))(x)[0, 0, :, 0].tolist()
    [1.0, 1.0, 2.0, 2.0]
    """

    def __init__(
        self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs
    ):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, "UpSampling2D")
        self.size = standardize_tuple(size, 2, "size", "UpSampling2D")
        value = interpolation.lower() if isinstance(interpolation, str) else None
        if value not in _INTERPOLATIONS:
            extra = (
                " Lanczos resizing has no PyTorch kernel (Keras's PyTorch backend "
                "refuses it too)."
                if value in ("lanczos3", "lanczos5")
                else ""
            )
            raise ValueError(
                f"UpSampling2D expects `interpolation` to be one of "
                f"{_INTERPOLATIONS}; got interpolation={interpolation!r}.{extra}"
            )
        self.interpolation = value
        self._axes = spatial_axes(self.data_format, 4)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        if inputs.ndim != 4:
            self._check_rank(inputs)
        if self.interpolation == "nearest":
            return upsample_nearest(inputs, self.data_format, self.size)
        # F.interpolate wants (batch, C, H, W): for channels_last inputs the
        # permuted view is already channels_last memory, which it handles
        # natively on the CPU. torch 2.11's CUDA bilinear backward refused it
        # ("grad_input must be contiguous"), so on a GPU it gets a plain copy.
        x = inputs
        if self.data_format == "channels_last":
            x = x.permute(0, 3, 1, 2)
            if x.device.type == "cuda":
                x = x.contiguous()
        dtype = x.dtype
        if dtype not in (torch.float32, torch.float64):
            x = x.float()  # Keras's PyTorch backend resizes in float32
        size = (x.shape[2] * self.size[0], x.shape[3] * self.size[1])
        x = F.interpolate(x, size=size, mode=self.interpolation, align_corners=False)
        if x.dtype != dtype:
            x = (x.round() if not dtype.is_floating_point else x).to(dtype)
        return x.permute(0, 2, 3, 1) if self.data_format == "channels_last" else x

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, factor in zip(self._axes, self.size):
            if shape[axis] is not None:
                shape[axis] *= factor
        return tuple(shape)

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }
