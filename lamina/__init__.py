# ruff: noqa: E402 (imports follow switching the garbage collector off)
"""lamina: the Keras 3 programming model, built natively on PyTorch.

`import lamina as keras` and write Keras code: Sequential, functional and
subclassed models, compile/fit/evaluate/predict, callbacks. Every layer is a
`torch.nn.Module`.
"""

import gc as _gc
import importlib as _importlib

# Importing lamina creates many long-lived objects (classes, functions,
# registries) on top of torch's; left on, the cyclic garbage collector walks
# torch's whole heap several times meanwhile (~55 ms, a quarter of the import)
# and finds nothing to free. It is switched back on at the end of this file.
_gc_was_enabled = _gc.isenabled()
_gc.disable()

from lamina import (
    activations,
    backend,
    callbacks,
    config,
    constraints,
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

# Namespaces most programs never touch are imported on first use
# (`keras.applications.ResNet50`, `from lamina import datasets`).
_LAZY_NAMESPACES = (
    "applications",
    "datasets",
    "distillation",
    "legacy",
    "visualization",
    "wrappers",
)


def __getattr__(name):
    if name in _LAZY_NAMESPACES:
        return _importlib.import_module(f"lamina.{name}")
    raise AttributeError(f"module 'lamina' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_NAMESPACES))


def version() -> str:
    """The Keras version whose API lamina implements (`"3.15.1"`), as
    `keras.version()` gives Keras's, so that version checks in Keras code
    (`parse(keras.version()) >= parse("3.2")`) hold. lamina's own release is
    `lamina.__version__`."""
    return saving.keras_file.KERAS_FORMAT_VERSION


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

if _gc_was_enabled:
    _gc.enable()
