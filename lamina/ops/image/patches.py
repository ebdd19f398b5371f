"""Patch extraction ops of `keras.ops.image`, from images and from volumes."""

import torch

from lamina.layers.convolutional import _conv_utils as U
from lamina.ops._utils import Tensor, to_tensor
from lamina.ops.image._common import _images, _unbatch
from lamina.ops.nn.convolution import conv
from lamina.ops.operation import op


def _copy_dtype(x: Tensor) -> torch.dtype:
    """A float dtype in which the identity-kernel convolution copies `x` exactly."""
    if x.is_floating_point():
        return x.dtype
    return torch.float64 if x.element_size() >= 4 else torch.float32


@op
def extract_patches(
    images,
    size,
    strides=None,
    dilation_rate=1,
    padding: str = "valid",
    data_format=None,
) -> Tensor:
    """Patches of `size` (an int or `(height, width)`) every `strides`
    (defaults to `size`) pixels, each flattened (row, column, channel) into the
    channels axis: `(batch, rows, cols, ph * pw * channels)`. A size of three
    ints extracts from volumes, as `extract_patches_3d`."""
    if not U.is_int(size):
        if not isinstance(size, (tuple, list)):
            raise TypeError(
                "ops.image.extract_patches: Invalid `size` argument. Expected an "
                f"int or a tuple of 2 or 3 ints; got size={size!r}."
            )
        if len(size) not in (2, 3):
            raise ValueError(
                "ops.image.extract_patches: Invalid `size` argument. Expected a "
                f"tuple of length 2 or 3 (2D or 3D patches); got size={size!r}."
            )
    if isinstance(size, (tuple, list)) and len(size) == 3:
        # Keras: a 3-long size extracts from volumes.
        return extract_patches_3d(
            images, size, strides, dilation_rate, padding, data_format
        )
    x, df, added = _images("extract_patches", images, data_format)
    size = U.standardize_tuple(size, 2, "size", "ops.image.extract_patches")
    strides = size if strides is None else strides
    channels = x.shape[-1] if df == "channels_last" else x.shape[1]
    depth = size[0] * size[1] * channels
    # A convolution with an identity kernel copies each patch into the channels.
    kernel = torch.eye(depth, dtype=_copy_dtype(x)).to(x.device)
    kernel = kernel.reshape(size[0], size[1], channels, depth)
    out = conv(x, kernel, strides, padding, df, dilation_rate)
    return _unbatch(out.to(x.dtype), added)  # integer images stay integer (Keras)


@op
def extract_patches_3d(
    volumes,
    size,
    strides=None,
    dilation_rate=1,
    padding: str = "valid",
    data_format=None,
) -> Tensor:
    """Patches of volumes, each flattened into the channels axis.

    Args:
        volumes: One volume `(depth, height, width, channels)` (rank 4) or a
            batch (rank 5); channels first with `data_format="channels_first"`.
        size: The patch size, an int or `(depth, height, width)`.
        strides: The step between patches, an int or three ints. Defaults to
            `size` (patches that tile the volume).
        dilation_rate: Spacing of the voxels a patch samples. Defaults to `1`.
        padding: `"valid"` (default) or `"same"`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.

    Returns:
        Patches of shape `(batch, d, h, w, pd * ph * pw * channels)` (channels
        last; the patch axis follows the batch axis for channels first), each
        flattened in (depth, row, column, channel) order; rank 4 for one
        volume.

    Raises:
        ValueError: For volumes that are not of rank 4 or 5, or a bad `size`
            or `strides`.
    """
    x = to_tensor(volumes)
    if x.ndim not in (4, 5):
        raise ValueError(
            "ops.image.extract_patches_3d expects volumes of rank 4 (one volume) "
            f"or 5 (a batch); got shape {tuple(x.shape)}."
        )
    who = "ops.image.extract_patches_3d"
    df = U.standardize_data_format(data_format, who)
    size = U.standardize_tuple(size, 3, "size", who)
    strides = U.standardize_tuple(
        size if strides is None else strides, 3, "strides", who
    )
    added = x.ndim == 4
    x = x.unsqueeze(0) if added else x
    channels = x.shape[-1] if df == "channels_last" else x.shape[1]
    depth = size[0] * size[1] * size[2] * channels
    # A convolution with an identity kernel copies each patch into the channels.
    kernel = torch.eye(depth, dtype=_copy_dtype(x)).to(x.device)
    kernel = kernel.reshape(*size, channels, depth)
    out = conv(x, kernel, strides, padding, df, dilation_rate)
    return _unbatch(out.to(x.dtype), added)  # integer images stay integer (Keras)
