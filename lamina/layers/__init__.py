"""lamina.layers: the Keras layers, each a torch.nn.Module."""

from lamina.layers.core.activation import Activation
from lamina.layers.core.dense import Dense
from lamina.layers.core.embedding import Embedding
from lamina.layers.core.identity import Identity
from lamina.layers.core.flatten import Flatten
from lamina.layers.core.input_layer import Input, InputLayer
from lamina.layers.core.masking import Masking
from lamina.layers.core.op_layer import OpLayer
from lamina.layers.core.torch_module_wrapper import TorchModuleWrapper
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer
from lamina.layers.merging.concatenate import Concatenate, concatenate
from lamina.layers.merging.dot import Dot, dot
from lamina.layers.merging.elementwise import (
    Add,
    Average,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    maximum,
    minimum,
    multiply,
    subtract,
)
from lamina.layers.regularization.dropout import Dropout
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
    "Activation",
    "Add",
    "Average",
    "Concatenate",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "Dense",
    "Dot",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "Input",
    "InputLayer",
    "InputSpec",
    "Layer",
    "Masking",
    "Maximum",
    "Minimum",
    "Multiply",
    "OpLayer",
    "Permute",
    "RepeatVector",
    "Reshape",
    "Subtract",
    "TorchModuleWrapper",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "add",
    "average",
    "concatenate",
    "dot",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]
