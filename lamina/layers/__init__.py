"""lamina.layers: the Keras layers, each a torch.nn.Module."""

from lamina.layers.core.activation import Activation
from lamina.layers.core.dense import Dense
from lamina.layers.core.flatten import Flatten
from lamina.layers.core.input_layer import Input, InputLayer
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer
from lamina.layers.regularization.dropout import Dropout

__all__ = [
    "Activation",
    "Dense",
    "Dropout",
    "Flatten",
    "Input",
    "InputLayer",
    "InputSpec",
    "Layer",
]
