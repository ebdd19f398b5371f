"""Reshaping layers: move, repeat, pad, crop or enlarge values; no weights."""

from lamina.layers.reshaping.cropping1d import Cropping1D
from lamina.layers.reshaping.cropping2d import Cropping2D
from lamina.layers.reshaping.cropping3d import Cropping3D
from lamina.layers.reshaping.permute import Permute
from lamina.layers.reshaping.repeat_vector import RepeatVector
from lamina.layers.reshaping.reshape import Reshape
from lamina.layers.reshaping.up_sampling1d import UpSampling1D
from lamina.layers.reshaping.up_sampling2d import UpSampling2D
from lamina.layers.reshaping.up_sampling3d import UpSampling3D
from lamina.layers.reshaping.zero_padding1d import ZeroPadding1D
from lamina.layers.reshaping.zero_padding2d import ZeroPadding2D
from lamina.layers.reshaping.zero_padding3d import ZeroPadding3D

__all__ = [
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "Permute",
    "RepeatVector",
    "Reshape",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
]
