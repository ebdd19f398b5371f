"""Make `keras` / `keras.src.*` imports resolve to lamina, so Keras 3.15.1's own
unit tests (copied out of site-packages) run against lamina.

- `keras.src.testing[.test_case|.test_utils]` and any `*_test` module load the
  real Keras source files (their imports resolve through this shim).
- `keras.src.a.b` -> `lamina.a.b` when that module exists.
- otherwise a proxy module that looks names up on the longest existing lamina
  prefix module, then on lamina's public namespaces (EXTRA first).
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types

KSRC = os.path.join(os.path.dirname(importlib.util.find_spec("keras").origin), "src")
import lamina  # noqa: E402

# Keras's dtype tests compute their expected dtypes with jax.numpy: put a jax
# install on KERAS_SUITE_JAX_PATH (e.g. `pip install --target DIR jax`) to run
# them; without it, tests that touch jax skip.
if os.environ.get("KERAS_SUITE_JAX_PATH"):
    sys.path.append(os.environ["KERAS_SUITE_JAX_PATH"])
MISSING = {"tensorflow", "grain", "flax", "orbax", "tf_keras", "tensorflow_text"}
REAL = {
    "testing",
    "testing.test_case",
    "testing.test_utils",
    "backend.common.backend_utils",
}  # + backend_utils
# names Keras keeps in internal modules -> lamina objects (filled lazily)
EXTRA = {}
_tb = types.ModuleType("traceback_utils")
_tb.is_traceback_filtering_enabled = lambda: False
_tb.disable_traceback_filtering = lambda: None
_tb.enable_traceback_filtering = lambda: None
EXTRA["utils.traceback_utils"] = _tb
EXTRA["backend.SUPPORTS_SPARSE_TENSORS"] = False
EXTRA["backend.SUPPORTS_RAGGED_TENSORS"] = False
EXTRA["backend.IS_THREAD_SAFE"] = True
EXTRA["backend.SUPPORTS_COMPLEX_DTYPES"] = True
from lamina.backend.symbolic_scope import in_symbolic_scope as _in_symbolic  # noqa: E402

EXTRA["backend.common.symbolic_scope.in_symbolic_scope"] = _in_symbolic
from lamina.trainers.trainer import Trainer as _Trainer  # noqa: E402

EXTRA["TorchTrainer"] = _Trainer


def _lamina_module(rest):
    name = "lamina" + ("." + rest if rest else "")
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_SEARCH = [
    "backend",
    "ops",
    "layers",
    "models",
    "utils",
    "saving",
    "tree",
    "dtype_policies",
    "quantizers",
    "optimizers",
    "losses",
    "metrics",
    "callbacks",
    "random",
    "initializers",
    "regularizers",
    "constraints",
    "activations",
    "trainers",
    "distribution",
    "config",
    "mixed_precision",
    "preprocessing",
    "applications",
    "datasets",
    "wrappers",
    "visualization",
    "distillation",
]


def _wrap(obj):
    if isinstance(obj, types.ModuleType) and obj.__name__.startswith("lamina."):
        return importlib.import_module("keras.src." + obj.__name__[7:])
    return obj


class _Missing(types.ModuleType):
    """Stand-in for tensorflow / jax / grain: anything touched skips the test."""

    def __init__(self, name):
        super().__init__(name)
        self.__path__ = []

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Stub(self.__name__ + "." + attr)


class _Stub:
    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        return _Stub(self._name + "." + attr)

    def __call__(self, *a, **k):
        import pytest

        pytest.skip(f"needs {self._name.split('.')[0]} ({self._name})")

    def __bool__(self):
        return False


class Proxy(types.ModuleType):
    def __init__(self, name, rest):
        super().__init__(name)
        self.__path__ = []
        self._rest = rest

    def __getattr__(self, attr):
        if attr == "__all__":
            # `from keras import *` (KerasTuner's backend module): the public
            # names of the lamina module this one stands for.
            mod = _lamina_module(self._rest)
            names = getattr(mod, "__all__", None) if mod is not None else []
            if names is None:
                names = [n for n in dir(mod) if not n.startswith("_")]
            self.__dict__["__all__"] = list(names)
            return self.__dict__["__all__"]
        if attr.startswith("__"):
            raise AttributeError(attr)
        # Resolved once, then kept as an ordinary module attribute: resolving
        # walks several modules (~80 us), which code calling `keras.ops.x` in
        # a loop (KerasRS's metrics) would otherwise pay at every call.
        value = self._resolve(attr)
        self.__dict__[attr] = value
        return value

    def _resolve(self, attr):
        rest = self._rest
        if (rest + "." + attr) in EXTRA or attr in EXTRA:
            return EXTRA.get(rest + "." + attr, EXTRA.get(attr))
        parts = rest.split(".") if rest else []
        # submodule?
        sub = _lamina_module(".".join(parts + [attr]))
        if sub is not None:
            return importlib.import_module(self.__name__ + "." + attr)
        for i in range(len(parts), -1, -1):
            mod = _lamina_module(".".join(parts[:i]))
            if mod is not None and hasattr(mod, attr):
                return _wrap(getattr(mod, attr))
        if rest.startswith("ops") and attr[:1].isupper():
            # Keras op classes (knp.Add, ...) -> the lamina op.
            return _op_class(rest, attr)
        for s in _SEARCH:
            mod = _lamina_module(s)
            if mod is not None and hasattr(mod, attr):
                return getattr(mod, attr)
        raise AttributeError(f"kshim: no lamina name for keras.src.{rest}.{attr}")


class _Existing(importlib.abc.Loader):
    def __init__(self, module):
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        pass


class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top in MISSING:
            return importlib.util.spec_from_loader(
                fullname, _Existing(_Missing(fullname))
            )
        if fullname != "keras" and not fullname.startswith("keras."):
            return None
        rest = fullname[len("keras.") :] if fullname != "keras" else ""
        if rest.startswith("src"):
            rest = rest[3:].lstrip(".")
        if rest in REAL or rest.endswith("_test"):
            f = os.path.join(KSRC, *rest.split("."))
            f = f + "/__init__.py" if os.path.isdir(f) else f + ".py"
            return importlib.util.spec_from_file_location(
                fullname,
                f,
                submodule_search_locations=[os.path.dirname(f)]
                if f.endswith("__init__.py")
                else None,
            )
        if rest and rest.split(".")[-1][:1].isupper():
            return None  # a class name, not a module: let the import fail
        if rest in ("", "src"):
            return importlib.util.spec_from_loader(
                fullname, _Existing(Proxy(fullname, ""))
            )
        return importlib.util.spec_from_loader(
            fullname, _Existing(Proxy(fullname, rest))
        )


class BackendProxy(Proxy):
    def __init__(self, name):
        super().__init__(name, "backend")


def install():
    os.environ["KERAS_BACKEND"] = "torch"
    import keras.src.backend.common.dtypes as _d  # the real one, constants only

    for n in (
        "ALLOWED_DTYPES",
        "INT_TYPES",
        "FLOAT_TYPES",
        "FLOAT8_TYPES",
        "PYTHON_DTYPES_MAP",
        "BIT64_TO_BIT32_DTYPE",
    ):
        if hasattr(_d, n):
            EXTRA[n] = getattr(_d, n)
    for k in [k for k in sys.modules if k == "keras" or k.startswith("keras.")]:
        del sys.modules[k]
    sys.meta_path.insert(0, Finder())
    os.environ["KERAS_BACKEND"] = "torch"


_OP_CLASSES = {}


def _op_class(rest, attr):
    """a stand-in for a Keras op class (`knp.Append(axis=1)`): its
    constructor arguments (positional ones named as in Keras's constructor) go
    to the lamina op as keywords; `__call__` and `symbolic_call` call the op."""
    from lamina.backend.naming import to_snake_case
    from lamina.layers.core._keras_op_args import (
        KERAS_OP_CLASS_NAMES,
        KERAS_OP_CONFIG_ARGS,
    )
    from lamina.ops import operation

    key = (rest, attr)
    if key in _OP_CLASSES:
        return _OP_CLASSES[key]
    by_class = {v: k for k, v in KERAS_OP_CLASS_NAMES.items()}
    name = by_class.get(attr) or to_snake_case(attr)
    fn = None
    for modname in ("lamina." + rest, "lamina.ops"):
        mod = _lamina_module(modname[7:])
        cand = getattr(mod, name, None) if mod is not None else None
        if cand is not None and operation.is_op(cand):
            fn = cand
            break
    if fn is None:
        return _Stub("INTERNAL_opclass." + attr)
    params = KERAS_OP_CONFIG_ARGS.get(name, ())

    class OpClass:
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            for p_, v in zip(params, args):
                kwargs[p_] = v
            self.kwargs = kwargs
            for k_, v_ in kwargs.items():  # Keras keeps them as attributes
                setattr(self, k_, v_)

        def _call(self, args, kwargs):
            import inspect

            kw = dict(self.kwargs)
            lead = []
            # Constructor arguments that lead the op's signature (einsum's
            # subscripts, full's shape) go first, positionally.
            for p_ in inspect.signature(fn).parameters.values():
                if p_.name in kw and p_.kind is p_.POSITIONAL_OR_KEYWORD:
                    lead.append(kw.pop(p_.name))
                else:
                    break
            return fn(*lead, *args, **kw, **kwargs)

        def __call__(self, *args, **kwargs):
            return self._call(args, kwargs)

        call = __call__

        def symbolic_call(self, *args, **kwargs):
            # As Keras: shapes and dtypes only, so tensors become KerasTensors.
            import torch

            from lamina import tree
            from lamina.backend.dtypes import standardize_dtype
            from lamina.backend.keras_tensor import KerasTensor

            def spec(v):
                if isinstance(v, torch.Tensor):
                    return KerasTensor(tuple(v.shape), standardize_dtype(v.dtype))
                return v

            args, kwargs = tree.map_structure(spec, (args, kwargs))
            return self._call(args, kwargs)

        compute_output_spec = symbolic_call

    OpClass.__name__ = attr
    _OP_CLASSES[key] = OpClass
    return OpClass


def _standardize_data_format(data_format=None):
    # keras.src.backend.standardize_data_format for the test helpers.
    if data_format is None:
        return lamina.backend.image_data_format()
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(f"bad data_format {data_format!r}")
    return data_format


EXTRA["backend.standardize_data_format"] = _standardize_data_format


# Internal hooks Keras's run_layer_test reads (shim-only)
from lamina.layers.layer import Layer as _Layer  # noqa: E402
from lamina.random.seed_generator import SeedGenerator as _SG  # noqa: E402


def _own_seed_generators(self):
    return [v for v in vars(self).values() if isinstance(v, _SG)]


def _torch_params(self):
    return list(self.weights) + [
        sg
        for layer in self._flatten_layers(True, True)
        for sg in _own_seed_generators(layer)
    ]


_Layer._seed_generators = property(_own_seed_generators)
_Layer.torch_params = property(_torch_params)


def _get_keras_mask(x):
    return getattr(x, "_keras_mask", None)


from lamina.backend.shape_inference import compute_output_spec as _cos  # noqa: E402

EXTRA["backend.get_keras_mask"] = _get_keras_mask
EXTRA["backend.standardize_shape"] = lambda shape: tuple(
    None if d is None else int(d) for d in shape
)
EXTRA["backend.compute_output_spec"] = _cos


# Name mappings the training-stack tests need
import lamina.dtype_policies._dtype_policy as _dp  # noqa: E402
from lamina.callbacks.monitor_callback import MonitorCallback as _MC  # noqa: E402

EXTRA["dtype_policies.dtype_policy"] = _dp
EXTRA["callbacks.MonitorCallback"] = _MC
import glob as _glob  # noqa: E402
import shutil as _sh  # noqa: E402

for _n, _f in {
    "join": os.path.join,
    "exists": os.path.exists,
    "isdir": os.path.isdir,
    "remove": os.remove,
    "rmtree": _sh.rmtree,
    "listdir": os.listdir,
    "makedirs": lambda p: os.makedirs(p, exist_ok=True),
    "copy": _sh.copy,
    "rename": os.replace,
    "File": open,
    "glob": _glob.glob,
}.items():
    EXTRA["utils.file_utils." + _n] = _f


def _set_keras_mask(x, mask):
    if mask is None:
        if hasattr(x, "_keras_mask"):
            del x._keras_mask
    else:
        x._keras_mask = mask


EXTRA["backend.set_keras_mask"] = _set_keras_mask
import lamina.saving.legacy_h5_model as _lh5  # noqa: E402
import lamina.saving.object_registration as _oreg  # noqa: E402

EXTRA["saving.object_registration.GLOBAL_CUSTOM_NAMES"] = _oreg._GLOBAL_CUSTOM_NAMES
EXTRA["saving.object_registration.GLOBAL_CUSTOM_OBJECTS"] = _oreg._GLOBAL_CUSTOM_OBJECTS
EXTRA["legacy.saving.legacy_h5_format.save_model_to_hdf5"] = _lh5.save_model
EXTRA["legacy.saving.legacy_h5_format.load_model_from_hdf5"] = _lh5.load_model
EXTRA["saving.saving_lib._MEMORY_UPPER_BOUND"] = 0.5  # Keras-internal knob
EXTRA["saving.saving_lib._CONFIG_FILENAME"] = "config.json"
EXTRA["saving.saving_lib._METADATA_FILENAME"] = "metadata.json"
EXTRA["saving.saving_lib._VARS_FNAME_H5"] = "model.weights.h5"
EXTRA["saving.saving_lib.save_weights_only"] = lambda model, filepath, **kwargs: (
    model.save_weights(str(filepath), **kwargs)
)
EXTRA["saving.saving_lib.load_weights_only"] = (
    lambda model, filepath, skip_mismatch=False, objects_to_skip=None: (
        model.load_weights(
            str(filepath), skip_mismatch=skip_mismatch, objects_to_skip=objects_to_skip
        )
    )
)
EXTRA["backend.device"] = lamina.device  # keras.src.backend.device(name) scope
EXTRA["backend.get_keras_mask"] = lambda x: getattr(x, "_keras_mask", None)
EXTRA["utils.io_utils.set_logging_verbosity"] = lambda *a, **k: None


# Names Keras keeps in internal modules that lamina has publicly.
import lamina.utils.bounding_boxes.converters as _bbc  # noqa: E402
import lamina.utils.bounding_boxes.iou as _bbi  # noqa: E402


def _index_lookup(**kwargs):
    # Keras's IndexLookup is an internal base class: build the public subclass.
    if kwargs.get("vocabulary_dtype") == "string":
        kwargs.pop("vocabulary_dtype")
        return lamina.layers.StringLookup(**kwargs)
    return lamina.layers.IntegerLookup(**kwargs)


EXTRA["layers.IndexLookup"] = _index_lookup
_BOXES = "layers.preprocessing.image_preprocessing.bounding_boxes."
EXTRA[_BOXES + "converters"] = _bbc
EXTRA[_BOXES + "iou"] = _bbi
for _name in dir(_bbc):
    if not _name.startswith("_"):
        EXTRA[_BOXES + "converters." + _name] = getattr(_bbc, _name)
for _name in ("compute_iou", "compute_ciou"):
    EXTRA[_BOXES + "iou." + _name] = getattr(_bbi, _name)
EXTRA["utils.backend_utils.convert_tf_tensor"] = lambda x, dtype=None: (
    lamina.ops.convert_to_tensor(x, dtype=dtype)
)


def _export_onnx(model, filepath, verbose=None, input_signature=None, **kwargs):
    return model.export(
        filepath,
        format="onnx",
        verbose=verbose,
        input_signature=input_signature,
        **kwargs,
    )


EXTRA["export.onnx.export_onnx"] = _export_onnx


def _removesuffix(x, suffix):
    # keras.src.utils.removesuffix: run_layer_test uses it on dict input shapes.
    return x[: -len(suffix)] if suffix and x.endswith(suffix) else x


EXTRA["utils.removesuffix"] = _removesuffix


# Keras finds an unregistered class by importing its module when that module
# lies in the keras package, as the test modules do in Keras's tree; the copies
# run here are top-level modules (`layers__rnn__rnn_test`), so look there.
import lamina.saving.serialization_lib as _sl  # noqa: E402

_lamina_resolve = _sl._resolve


def _resolve_in_test_modules(name, module, *args, **kwargs):
    obj = _lamina_resolve(name, module, *args, **kwargs)
    if obj is None and isinstance(module, str) and module.endswith("_test"):
        obj = getattr(sys.modules.get(module), name, None)
    return obj


_sl._resolve = _resolve_in_test_modules


# keras.src.utils.tracking's containers (tree_test builds them): plain
# subclasses of the builtins, which is what lamina's tree sees in a layer's
# tracked attributes too. dmtree/optree report unavailable (helper 125).
import collections as _collections  # noqa: E402


def _tracked(base):
    class Tracked(base):
        def __init__(self, values=None, tracker=None):
            super().__init__(() if values is None else values)

    Tracked.__name__ = "Tracked" + base.__name__.title().replace("dict", "Dict")
    return Tracked


EXTRA["utils.tracking.TrackedList"] = _tracked(list)
EXTRA["utils.tracking.TrackedDict"] = _tracked(dict)
EXTRA["utils.tracking.TrackedSet"] = _tracked(set)
EXTRA["utils.tracking.TrackedOrderedDict"] = _tracked(_collections.OrderedDict)
_unavailable = types.SimpleNamespace(available=False)
EXTRA["utils.module_utils.dmtree"] = _unavailable
EXTRA["utils.module_utils.optree"] = _unavailable


def _autocast_scope(dtype):
    # Keras's AutocastScope(dtype) region: lamina's mixed precision runs under
    # torch.autocast (device-agnostic tests: the CPU region).
    import torch

    if dtype is None:
        return torch.autocast("cpu", enabled=False)
    return torch.autocast("cpu", dtype=getattr(torch, str(dtype)))


EXTRA["backend.AutocastScope"] = _autocast_scope
from lamina.backend.dynamic_backend import DynamicBackend as _DynamicBackend  # noqa: E402

EXTRA["utils.backend_utils.DynamicBackend"] = _DynamicBackend
# Keras's tracking scope switch (KerasRS decorates with it at import time);
# lamina has no tracking scope to switch off.
EXTRA["utils.tracking.no_automatic_dependency_tracking"] = lambda fn: fn
# Keras-internal names with a lamina twin elsewhere.
from lamina.dtype_policies.quantized_dtype_policy import (  # noqa: E402
    quantized_policy_from_name as _quantized_policy_from_name,
)
from lamina.quantizers.gptq_core import should_quantize_layer as _should_quantize  # noqa: E402

EXTRA["dtype_policies.dtype_policy._get_quantized_dtype_policy_by_str"] = (
    _quantized_policy_from_name
)
EXTRA["quantizers.utils"] = types.SimpleNamespace(
    should_quantize_layer=_should_quantize
)
