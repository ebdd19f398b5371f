"""lamina: the Keras 3 programming model, built natively on PyTorch.

`import lamina as keras` and write Keras code: Sequential, functional and
subclassed models, compile/fit/evaluate/predict, callbacks. Every layer is a
`torch.nn.Module`.
"""

from lamina import (
    activations,
    applications,
    backend,
    callbacks,
    config,
    constraints,
    datasets,
    distillation,
    distribution,
    dtype_policies,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    preprocessing,
    quantizers,
    random,
    regularizers,
    saving,
    tree,
    utils,
    visualization,
    wrappers,
)
from lamina.backend.device import device_scope as device
from lamina.backend.keras_tensor import KerasTensor
from lamina.backend.naming import name_scope
from lamina.backend.remat import RematScope, remat
from lamina.backend.stateless_scope import StatelessScope
from lamina.backend.symbolic_scope import SymbolicScope
from lamina.backend.variables import Variable
from lamina.dtype_policies import DTypePolicy, FloatDTypePolicy
from lamina.initializers import Initializer
from lamina.layers import Input, InputSpec, Layer
from lamina.losses import Loss
from lamina.metrics import Metric
from lamina.models import Model, Sequential
from lamina.ops.function import Function, Operation
from lamina.optimizers import Optimizer
from lamina.quantizers import Quantizer
from lamina.regularizers import Regularizer

__version__ = "0.1.0"


def version() -> str:
    """lamina's version, as `keras.version()` gives Keras's."""
    return __version__


__all__ = [
    "DTypePolicy",
    "FloatDTypePolicy",
    "Function",
    "Initializer",
    "Input",
    "InputSpec",
    "KerasTensor",
    "Layer",
    "Loss",
    "Metric",
    "Model",
    "Operation",
    "Optimizer",
    "Quantizer",
    "Regularizer",
    "RematScope",
    "Sequential",
    "StatelessScope",
    "SymbolicScope",
    "Variable",
    "activations",
    "applications",
    "backend",
    "callbacks",
    "config",
    "constraints",
    "datasets",
    "device",
    "distillation",
    "distribution",
    "dtype_policies",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "mixed_precision",
    "models",
    "name_scope",
    "ops",
    "optimizers",
    "preprocessing",
    "quantizers",
    "random",
    "regularizers",
    "remat",
    "saving",
    "tree",
    "utils",
    "version",
    "visualization",
    "wrappers",
]
