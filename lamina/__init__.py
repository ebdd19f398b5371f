"""lamina: the Keras 3 programming model, built natively on PyTorch.

`import lamina as keras` and write Keras code: Sequential, functional and
subclassed models, compile/fit/evaluate/predict, callbacks. Every layer is a
`torch.nn.Module`.
"""

from lamina import (
    activations,
    backend,
    callbacks,
    constraints,
    datasets,
    distribution,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    random,
    regularizers,
    saving,
    tree,
    utils,
)
from lamina.backend.keras_tensor import KerasTensor
from lamina.dtype_policies import DTypePolicy
from lamina.layers import Input, Layer
from lamina.models import Model, Sequential

__version__ = "0.1.0"

__all__ = [
    "DTypePolicy",
    "Input",
    "KerasTensor",
    "Layer",
    "Model",
    "Sequential",
    "activations",
    "backend",
    "callbacks",
    "constraints",
    "datasets",
    "distribution",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "mixed_precision",
    "models",
    "ops",
    "optimizers",
    "random",
    "regularizers",
    "saving",
    "tree",
    "utils",
]
