"""Objects to and from Keras 3's config dicts: `module`, `class_name`, `config`,
`registered_name`. Built-in classes are written under their Keras namespace
(`keras.layers`, `keras.initializers`, ...) so configs move between lamina and Keras.
"""

import base64
import builtins
import difflib
import dis
import importlib
import inspect
import marshal
import threading
import types

import numpy as np
import torch

from lamina.backend.naming import defining_class
from lamina.saving import object_registration

# Keras public namespace -> the lamina module that holds the same public names.
PUBLIC_MODULES = {
    "keras": "lamina",
    "keras.models": "lamina.models",
    "keras.layers": "lamina.layers",
    "keras.activations": "lamina.activations",
    "keras.initializers": "lamina.initializers",
    "keras.regularizers": "lamina.regularizers",
    "keras.constraints": "lamina.constraints",
    "keras.losses": "lamina.losses",
    "keras.metrics": "lamina.metrics",
    "keras.optimizers": "lamina.optimizers",
    "keras.optimizers.schedules": "lamina.optimizers.schedules",
    "keras.callbacks": "lamina.callbacks",
    "keras.dtype_policies": "lamina.dtype_policies",
    "keras.random": "lamina.random",
    "keras.ops": "lamina.ops",
    "keras.utils": "lamina.utils",
    "keras.distillation": "lamina.distillation",
    "keras.quantizers": "lamina.quantizers",
}

# Keras's torch backend writes some classes under private modules, e.g. an Adam
# optimizer as "keras.src.backend.torch.optimizers.torch_adam". The last package
# name in such a path that is a public family says where to look.
_KERAS_SRC_FAMILIES = {
    "layers": "keras.layers",
    "models": "keras.models",
    "activations": "keras.activations",
    "initializers": "keras.initializers",
    "regularizers": "keras.regularizers",
    "constraints": "keras.constraints",
    "losses": "keras.losses",
    "metrics": "keras.metrics",
    "optimizers": "keras.optimizers",
    "schedules": "keras.optimizers.schedules",
    "callbacks": "keras.callbacks",
    "dtype_policies": "keras.dtype_policies",
    "random": "keras.random",
    "distillation": "keras.distillation",
    "quantizers": "keras.quantizers",
}

# Namespaces whose plain functions a config may name ({"class_name": "function"}).
# Anything else a config names must be a class with `from_config`: a file can
# describe objects, never call arbitrary functions (CVE-2025-1550, -8747, -9906).
# `keras.ops` functions are pure tensor maths (what a Lambda layer wraps).
_FUNCTION_NAMESPACES = {
    "keras.activations",
    "keras.losses",
    "keras.metrics",
    "keras.ops",
}

# Helpers every family module exports next to its functions; never what a
# config means by a function name.
_FAMILY_HELPERS = {"get", "serialize", "deserialize"}

_SAFE_MODE_STACK = []


# Keras writes these under the top-level "keras" namespace.
_TOP_LEVEL_NAMES = {
    "Sequential",
    "Model",
    "Functional",
    "DTypePolicy",
    "FloatDTypePolicy",
}
# Classes Keras writes under their private module with `registered_name` set
# (observed in Keras 3.15 files); Keras cannot load "keras.Functional".
_KERAS_PRIVATE_MODULES = {"Functional": "keras.src.models.functional"}
# Layers Keras defines inside its application modules without exporting them:
# written under the private module with `registered_name` set, read from the
# lamina application module of the same name.
_KERAS_APPLICATION_LAYERS = {
    "LayerScale": "keras.src.applications.convnext",
    "StochasticDepth": "keras.src.applications.convnext",
    "CustomScaleLayer": "keras.src.applications.inception_resnet_v2",
}
# Classes Keras exports (and names in configs) under another name.
_KERAS_EXPORT_NAMES = {"GroupedQueryAttention": "GroupQueryAttention"}


def _keras_application_layer(cls):
    module = _KERAS_APPLICATION_LAYERS.get(cls.__name__)
    return module is not None and cls.__module__ == (
        "lamina.applications." + module.rsplit(".", 1)[1]
    )


def _public_namespace(obj):
    """Keras namespace under which a lamina built-in `obj` is exported, or None."""
    owner = getattr(obj, "__module__", None) or ""
    if not owner.startswith("lamina"):
        return None
    name = obj.__name__
    if name in _TOP_LEVEL_NAMES:
        return "keras"
    # The most specific lamina package that exports `obj` under its own name.
    candidates = sorted(
        (k for k in PUBLIC_MODULES if k != "keras"),
        key=lambda k: -len(PUBLIC_MODULES[k]),
    )
    for keras_module in candidates:
        lamina_module = PUBLIC_MODULES[keras_module]
        if not (owner == lamina_module or owner.startswith(lamina_module + ".")):
            continue
        module = importlib.import_module(lamina_module)
        if getattr(module, name, None) is obj:
            return keras_module
    return None


def serialize_keras_object(obj):
    """A JSON-ready description of `obj` in Keras 3's schema."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        # Keras: a tuple stays a tuple here (json writes both as lists).
        items = [serialize_keras_object(x) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, torch.nn.ModuleList):
        # A list of layers set on a layer (`self.blocks = [...]`) is held as a
        # ModuleList; Keras serializes that attribute as the list it was.
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, torch.nn.ModuleDict):
        obj = dict(obj.items())
    if isinstance(obj, dict):
        result = {str(k): serialize_keras_object(v) for k, v in obj.items()}
        scope = _sharing_scope()
        if scope is not None:
            scope.copied(obj, result)
        return result
    if isinstance(obj, slice):  # e.g. the index of `x[:, :2]` on a KerasTensor
        return {
            "class_name": "__slice__",
            "config": {
                "start": serialize_keras_object(obj.start),
                "stop": serialize_keras_object(obj.stop),
                "step": serialize_keras_object(obj.step),
            },
        }
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, np.ndarray):
        return {
            "class_name": "__numpy__",
            "config": {"value": obj.tolist(), "dtype": obj.dtype.name},
        }
    if isinstance(obj, torch.Tensor):
        from lamina.backend import standardize_dtype

        return {
            "class_name": "__tensor__",
            "config": {
                "value": obj.detach().cpu().tolist(),
                "dtype": standardize_dtype(obj.dtype),
            },
        }
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        return _serialize_lambda(obj)
    if isinstance(obj, types.FunctionType) or isinstance(
        obj, types.BuiltinFunctionType
    ):
        if _public_namespace(obj) is not None:
            # Keras writes its own functions under "builtins" (and cannot read
            # them under their namespace, e.g. "keras.losses").
            return {
                "module": "builtins",
                "class_name": "function",
                "config": obj.__name__,
                "registered_name": "function",
            }
        registered = object_registration.get_registered_name(obj)
        return {
            "module": _user_module(obj),
            "class_name": "function",
            "config": registered,
            "registered_name": registered,
        }
    if hasattr(obj, "get_config"):
        cls = defining_class(obj.__class__)
        config = obj.get_config()
        namespace = _public_namespace(cls)
        if namespace is not None and cls.__name__ in _KERAS_PRIVATE_MODULES:
            result = {
                "module": _KERAS_PRIVATE_MODULES[cls.__name__],
                "class_name": cls.__name__,
                "config": serialize_keras_object(config),
                "registered_name": cls.__name__,
            }
        elif namespace is not None:
            result = {
                "module": namespace,
                "class_name": _KERAS_EXPORT_NAMES.get(cls.__name__, cls.__name__),
                "config": serialize_keras_object(config),
                "registered_name": None,
            }
        elif _keras_application_layer(cls):
            result = {
                "module": _KERAS_APPLICATION_LAYERS[cls.__name__],
                "class_name": cls.__name__,
                "config": serialize_keras_object(config),
                "registered_name": cls.__name__,
            }
        else:
            result = {
                "module": _user_module(cls),
                "class_name": cls.__name__,
                "config": serialize_keras_object(config),
                "registered_name": object_registration.get_registered_name(cls),
            }
        get_build_config = getattr(obj, "get_build_config", None)
        if get_build_config is not None:
            build_config = get_build_config()
            if build_config:
                result["build_config"] = serialize_keras_object(build_config)
        # Keras: a compiled model carries how it was compiled.
        get_compile_config = getattr(obj, "get_compile_config", None)
        if callable(get_compile_config):
            compile_config = get_compile_config()
            if compile_config is not None:
                result["compile_config"] = serialize_keras_object(compile_config)
        scope = _sharing_scope()
        if scope is not None:
            scope.serialized(obj, result)
        return result
    raise TypeError(
        f"Cannot serialize an object of type {type(obj).__name__}: it is not a "
        "number, string, list, dict, array, tensor, function, or an object with "
        "get_config(). Give it a get_config() method."
    )


class ObjectSharingScope:
    """Within it, an object met more than once keeps one identity, as Keras's
    `.keras` files record it.

    Saving: every config of an object serialized more than once gets the same
    `"shared_object_id"` (a layer used in the graph and inside a wrapper), so
    Keras rebuilds one object, not two. Loading: configs carrying the same
    `"shared_object_id"` give back the object the first one built.
    `save_model` and `load_model` open it around the model's config.
    """

    def __enter__(self):
        self._built = {}  # shared_object_id -> object (loading)
        self._count = {}  # id(object) -> times serialized (saving)
        self._configs = {}  # id(object) -> its config dicts, copies included
        self._owner = {}  # id(config dict) -> id(object)
        self._marked = set()  # id(object) of those met more than once
        self._alive = []  # keeps the objects (and so their ids) alive
        _SHARING.__dict__.setdefault("stack", []).append(self)
        return self

    def __exit__(self, *exc):
        _SHARING.stack.remove(self)

    def serialized(self, obj, config):
        key = id(obj)
        if key not in self._count:
            self._alive.append(obj)
        self._count[key] = self._count.get(key, 0) + 1
        self._remember(key, config)

    def copied(self, original, copy):
        # serialize_keras_object copies config dicts it meets again (a
        # wrapper's get_config() holds its layer's): the copy may be the one
        # written, so it is marked too.
        key = self._owner.get(id(original))
        if key is not None:
            self._remember(key, copy)

    def _remember(self, key, config):
        configs = self._configs.setdefault(key, [])
        configs.append(config)
        self._owner[id(config)] = key
        self._alive.append(config)
        if self._count[key] < 2:
            return
        # Met again: every config of it says so (the earlier ones once).
        if key in self._marked:
            config["shared_object_id"] = key
        else:
            self._marked.add(key)
            for each in configs:
                each["shared_object_id"] = key

    def get(self, config):
        key = config.get("shared_object_id")
        return None if key is None else self._built.get(key)

    def record(self, config, obj):
        key = config.get("shared_object_id")
        if key is not None and not isinstance(key, (dict, list)):
            self._built.setdefault(key, obj)


# The open ObjectSharingScopes of each thread (`stack`, innermost last).
_SHARING = threading.local()


def _sharing_scope():
    stack = getattr(_SHARING, "stack", None)
    return stack[-1] if stack else None


def _user_module(obj):
    module = getattr(obj, "__module__", None)
    return None if module == "__main__" else module


class SafeModeScope:
    """`with SafeModeScope(False):` lets configs inside decode Python lambdas.

    Safe mode (the default) refuses `__lambda__` entries, which carry Python
    bytecode. `load_model(..., safe_mode=False)` opens this scope for the whole
    load, so layers rebuilt deep inside the model see the same setting. A
    config can never change it: it only names classes, it calls nothing.
    """

    def __init__(self, safe_mode: bool = True):
        self.safe_mode = bool(safe_mode)

    def __enter__(self):
        _SAFE_MODE_STACK.append(self.safe_mode)
        return self

    def __exit__(self, *exc):
        _SAFE_MODE_STACK.pop()


def in_safe_mode():
    """The innermost `SafeModeScope`'s setting; outside any scope False after
    `enable_unsafe_deserialization()`, else None (each call's `safe_mode`)."""
    if _SAFE_MODE_STACK:
        return _SAFE_MODE_STACK[-1]
    return False if _UNSAFE_GLOBALLY[0] else None


# Set by `enable_unsafe_deserialization()` (`lamina.config`), for the process.
_UNSAFE_GLOBALLY = [False]


def enable_unsafe_deserialization() -> None:
    """Let every later load decode Python lambdas (as `safe_mode=False`
    would), for this process. Only for files you trust: a lambda in a config
    is code that runs when the model is built."""
    _UNSAFE_GLOBALLY[0] = True


def deserialize_keras_object(
    config,
    custom_objects=None,
    safe_mode=True,
    *,
    module_objects=None,
    kind="object",
    **kwargs,
):
    """Rebuild the object that `serialize_keras_object` described.

    Only classes with `from_config` exported by lamina (under the Keras
    namespace the config names), functions of the activation, loss and metric
    families, and objects registered with `register_keras_serializable` or
    passed in `custom_objects` are ever resolved; nothing is imported by the
    module path a config gives.

    Args:
        config: A config dict, a plain value, or a name (looked up in
            `module_objects`, then the registry and `custom_objects`; without
            `module_objects`, a name found nowhere is a plain string and comes
            back as is).
        module_objects: `{name: obj}` of the family being deserialized
            (e.g. all activations), for bare names.
        custom_objects: User classes and functions by name.
        safe_mode: Refuse configs that would run arbitrary code (Python
            lambdas). An enclosing `SafeModeScope` takes precedence.
        kind: What is being loaded, for error messages ("activation", ...).
        **kwargs: Keras's `printable_module_name` (an alias of `kind`); any
            other keyword is refused.

    A bare name found in `module_objects` that names a class with
    `from_config` gives an instance made from an empty config, as in Keras
    (`"adam"` with the optimizers' table gives `Adam()`); found in the
    registry or `custom_objects`, it gives the object itself.
    """
    kind = kwargs.pop("printable_module_name", kind)
    if kwargs:
        raise TypeError(
            "deserialize_keras_object() got unexpected keyword arguments "
            f"{sorted(kwargs)}; it takes config, custom_objects, safe_mode, "
            "module_objects and printable_module_name."
        )
    scoped = in_safe_mode()
    safe_mode = scoped if scoped is not None else safe_mode
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        obj = object_registration.get_registered_object(config, custom_objects)
        if obj is not None:
            return obj
        if module_objects is None:
            return config  # a plain string value, as Keras returns it
        if config not in module_objects:
            raise_unknown(kind, config, module_objects)
        obj = module_objects[config]
        if inspect.isclass(obj) and hasattr(obj, "from_config"):
            return obj.from_config({})  # Keras: a class's name means its default
        return obj
    if isinstance(config, (list, tuple)):
        return [
            deserialize_keras_object(
                c, custom_objects, safe_mode, module_objects=module_objects, kind=kind
            )
            for c in config
        ]
    if not isinstance(config, dict):
        raise TypeError(f"Cannot deserialize {kind} from {type(config).__name__}.")
    if "class_name" not in config:
        # A plain dict value: its values may hold serialized objects (tensors,
        # arrays, functions), as in Keras.
        return {
            key: deserialize_keras_object(value, custom_objects, safe_mode, kind=kind)
            for key, value in config.items()
        }
    class_name = config["class_name"]
    inner = config.get("config")
    if not isinstance(class_name, str):
        raise TypeError(
            f"Cannot deserialize {kind}: its 'class_name' must be a string; got "
            f"{class_name!r}."
        )
    if class_name == "__slice__":
        return slice(
            *(
                deserialize_keras_object(
                    inner.get(part),
                    custom_objects,
                    safe_mode,
                    module_objects=module_objects,
                    kind=kind,
                )
                for part in ("start", "stop", "step")
            )
        )
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__bytes__":
        return str(inner["value"]).encode("utf-8")
    if class_name == "__numpy__":
        return np.asarray(inner["value"], dtype=_plain_dtype(inner["dtype"], kind))
    if class_name == "__tensor__":
        from lamina.backend import convert_to_tensor

        dtype = _plain_dtype(inner["dtype"], kind)
        return convert_to_tensor(np.asarray(inner["value"], dtype=dtype), dtype=dtype)
    if class_name == "__lambda__":
        if safe_mode:
            raise ValueError(
                f"Refusing to load a Python lambda ({kind}) from a config: it would "
                "run code stored in the file (a risk of arbitrary code execution). "
                "If you trust the file, load it with safe_mode=False; otherwise "
                "pass the function in custom_objects."
            )
        return load_lambda_config(inner, kind)
    registered_name = config.get("registered_name")
    module = config.get("module")
    if class_name == "function":
        if not isinstance(inner, str) and not isinstance(registered_name, str):
            raise TypeError(
                f"Cannot deserialize {kind}. Expected 'config' to be a non-null str "
                f"(the function's name) for a function class_name; got "
                f"{type(inner).__name__}. Full config: {config}"
            )
        name = inner if isinstance(inner, str) else registered_name
        obj = _resolve(name, module, custom_objects, module_objects, function=True)
        if obj is not None:
            _check_builtin_registered_name(config, name, obj)
        elif registered_name != name:
            obj = _resolve(
                registered_name, None, custom_objects, module_objects, function=True
            )
        if obj is None:
            raise_unknown(kind, name, module_objects or {})
        return obj
    scope = _sharing_scope() if "shared_object_id" in config else None
    if scope is not None:
        shared = scope.get(config)
        if shared is not None:
            return shared  # the object an earlier config with this id built
    if inner is not None and not isinstance(inner, dict):
        raise TypeError(
            f"Cannot deserialize {kind}. Expected 'config' to be a dict for "
            f"{class_name}; got {type(inner).__name__}. Full config: {config}"
        )
    cls = None
    if registered_name and registered_name != class_name:
        cls = object_registration.get_registered_object(registered_name, custom_objects)
    if cls is None:
        cls = _resolve(class_name, module, custom_objects, module_objects)
        if cls is not None:
            _check_builtin_registered_name(config, class_name, cls)
    if cls is None:
        builtin = ""
        if isinstance(module, str) and (
            module == "keras" or module.startswith("keras.")
        ):
            builtin = (
                f" lamina has no Keras class {module}.{class_name}; if it is a "
                "Keras layer lamina does not implement yet, replace it in the "
                "model. If it is your own class,"
            )
        else:
            builtin = " If it is your own class,"
        error = TypeError(
            f"Could not locate class '{class_name}' (module {module!r}) while "
            f"loading a {kind}.{builtin} register it with "
            "@lamina.saving.register_keras_serializable() or pass it in "
            "custom_objects={'" + str(class_name) + "': " + str(class_name) + "}."
        )
        error._explained = True  # not wrapped again by an outer from_config
        raise error
    if not inspect.isclass(cls):
        return cls
    if not hasattr(cls, "from_config"):
        error = TypeError(
            f"Unable to reconstruct an instance of '{class_name}' because the class "
            "is missing a `from_config()` method. Define a classmethod "
            "from_config(config) that rebuilds it from get_config()'s dict. "
            f"Full object config: {config}"
        )
        error._explained = True
        raise error
    from_config_kwargs = {}
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        from_config_kwargs["custom_objects"] = custom_objects
    with (
        object_registration.CustomObjectScope(custom_objects or {}),
        SafeModeScope(safe_mode),
    ):
        try:
            instance = cls.from_config(inner or {}, **from_config_kwargs)
        except TypeError as error:
            if getattr(error, "_explained", False):
                raise  # an inner object's failure, already explained
            wrapped = TypeError(
                f"{cls.__name__} could not be deserialized properly. Please "
                "ensure that components that are Python object instances "
                "(layers, models, etc.) returned by `get_config()` are "
                "explicitly deserialized in the model's `from_config()` "
                f"method (lamina.saving.deserialize_keras_object).\n\n"
                f"Exception encountered: {error}"
            )
            wrapped._explained = True
            raise wrapped from error
        build_config = config.get("build_config")
        if (
            build_config
            and hasattr(instance, "build_from_config")
            and not getattr(instance, "built", True)
        ):
            instance.build_from_config(build_config)
        compile_config = config.get("compile_config")
        if compile_config and hasattr(instance, "compile_from_config"):
            instance.compile_from_config(compile_config)
    if scope is not None:
        scope.record(config, instance)
    return instance


def _check_builtin_registered_name(config, name, obj):
    """Refuse a `registered_name` that names something else than the lamina
    built-in the config resolved to (as Keras: built-ins are not registered)."""
    explicit = config.get("registered_name")
    if not explicit or explicit in (name, config.get("class_name")):
        return
    if not (getattr(obj, "__module__", None) or "").startswith("lamina"):
        return
    raise ValueError(
        f"The config gives registered_name={explicit!r}, but {name!r} resolved to "
        "a Keras built-in, and built-ins do not use registered names. Remove the "
        f"'registered_name' field from the config. Full config: {config}"
    )


def _plain_dtype(dtype, kind):
    """A numeric NumPy dtype named by a config; object dtypes are refused."""
    try:
        result = np.dtype(dtype)
    except TypeError:
        result = None
    if result is None or result.kind not in "biufc":
        raise ValueError(
            f"Cannot load an array in a {kind} config with dtype {dtype!r}: only "
            "numeric dtypes (bool, int, float, complex) are allowed."
        )
    return result


def _public_lookup(name, module):
    """A lamina object exported under the Keras namespace `module`, or None."""
    if not isinstance(module, str):
        return None
    if _KERAS_APPLICATION_LAYERS.get(name) == module:
        owner = importlib.import_module(
            "lamina.applications." + module.rsplit(".", 1)[1]
        )
        return getattr(owner, name)
    if module.startswith("keras.src."):
        parts = module.split(".")[2:]
        families = [p for p in parts if p in _KERAS_SRC_FAMILIES]
        if not families:
            return None
        module = _KERAS_SRC_FAMILIES[families[-1]]
    if module not in PUBLIC_MODULES:
        return None
    candidates = [PUBLIC_MODULES[module]]
    if module in ("keras", "keras.models"):
        # Functional models are named by "keras.src.models.functional" (Keras
        # 3.15) or "keras"; lamina keeps the class in lamina.models.functional.
        candidates += ["lamina.models", "lamina.models.functional"]
    for lamina_module_name in candidates:
        try:
            lamina_module = importlib.import_module(lamina_module_name)
        except ImportError:
            continue
        obj = getattr(lamina_module, name, None)
        if obj is not None:
            return obj
    return None


def _resolve(name, module, custom_objects, module_objects, function=False):
    """Find what a config names, allowing only saveable classes (or, with
    `function=True`, functions of the activation/loss/metric families)."""
    if not isinstance(name, str):
        return None
    obj = object_registration.get_registered_object(name, custom_objects)
    if obj is not None:
        return obj
    if name.startswith("_"):
        return None
    obj = _public_lookup(name, module)
    if obj is not None:
        owner = getattr(obj, "__module__", None) or ""
        if not owner.startswith("lamina"):
            obj = None
        elif function:
            namespace = module
            if isinstance(module, str) and module.startswith("keras.src."):
                namespace = _public_namespace(obj)
            if not (
                isinstance(obj, types.FunctionType)
                and namespace in _FUNCTION_NAMESPACES
                and name not in _FAMILY_HELPERS
            ):
                obj = None
        elif not (inspect.isclass(obj) and hasattr(obj, "from_config")):
            raise TypeError(
                f"Refusing to deserialize {module}.{name}: a config may only name "
                "layers, models, optimizers, losses, metrics and other classes "
                "that can be rebuilt from a config, not arbitrary functions or "
                "modules."
            )
        if obj is not None:
            return obj
    if module_objects and name in module_objects:
        return module_objects[name]
    if function and module == "builtins":
        # Keras's spelling of its own functions: look in each function family.
        for namespace in sorted(_FUNCTION_NAMESPACES):
            obj = _resolve(name, namespace, custom_objects, None, function=True)
            if obj is not None:
                return obj
        if ">" not in name:
            # Keras <= 3.6 saved a registered function by its bare name, not
            # "package>name"; Keras matches it against the registered names.
            for registered, obj in {
                **object_registration.get_custom_objects(),
                **(custom_objects or {}),
            }.items():
                if registered.endswith(">" + name):
                    return obj
    return None


def dump_function(fn):
    """`(code, defaults, closure)` of a Python function, JSON-ready.

    Keras's `func_dump` layout: base64 of the marshalled code object, the
    default values, and the closure's cell contents (or None for each).
    """
    code = base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")
    defaults = (
        None if fn.__defaults__ is None else serialize_keras_object(fn.__defaults__)
    )
    closure = (
        None
        if not fn.__closure__
        else [serialize_keras_object(c.cell_contents) for c in fn.__closure__]
    )
    return code, defaults, closure


def _serialize_lambda(fn):
    # Keras's generic `__lambda__` entry (Lambda layers use `dump_function`'s
    # three values under "code", "defaults" and "closure" instead).
    return {"class_name": "__lambda__", "config": {"value": list(dump_function(fn))}}


def is_python_lambda_config(config) -> bool:
    """True for a `{"class_name": "__lambda__", ...}` entry (Python bytecode)."""
    return isinstance(config, dict) and config.get("class_name") == "__lambda__"


def load_lambda_config(inner, kind):
    """Rebuild a `__lambda__` (only ever reached with safe_mode=False)."""
    if isinstance(inner, dict) and "value" in inner:
        parts = inner["value"]
    elif isinstance(inner, dict) and "code" in inner:
        parts = (inner.get("code"), inner.get("defaults"), inner.get("closure"))
    else:
        parts = None
    if not isinstance(parts, (list, tuple)) or len(parts) != 3:
        raise ValueError(
            f"Cannot load the Python lambda in this {kind} config: expected "
            "'code', 'defaults' and 'closure' (or 'value' holding the three); "
            f"got {inner!r:.200}."
        )
    return load_function(*parts, kind=kind)


def load_function(code, defaults=None, closure=None, kind="object"):
    """Rebuild a function from `dump_function`'s values (Keras's `func_load`).

    Only call this with safe mode off: unmarshalling code runs what the file
    says. The function's globals are Python's builtins plus the objects in
    scope (`custom_objects`, `custom_object_scope`, registered objects); a
    global name found in neither is refused here rather than failing later
    with a NameError (Keras's loader fails then).
    """
    try:
        raw = base64.decodebytes(code.encode("ascii"))
        code_object = marshal.loads(raw)
    except (AttributeError, TypeError, ValueError, EOFError) as error:
        raise ValueError(
            f"Cannot load the Python lambda in this {kind} config: its bytecode "
            f"is malformed or was written by another Python version ({error}). "
            "Pass the function in custom_objects instead."
        ) from None
    if not isinstance(code_object, types.CodeType):
        raise ValueError(f"The lambda in this {kind} config holds no code object.")
    namespace = {"__builtins__": builtins}
    for scope in object_registration._SCOPE_STACK:
        namespace.update(scope)
    missing = sorted(
        name
        for name in _global_names(code_object)
        if name not in namespace and not hasattr(builtins, name)
    )
    if missing:
        example = ", ".join(f"{name!r}: ..." for name in missing)
        raise ValueError(
            f"The Python lambda in this {kind} config uses the global names "
            f"{missing}, which are not defined when it is loaded (only builtins "
            "and custom objects are). Pass them to the loader, e.g. "
            f"custom_objects={{{example}}} (for `ops`, lamina.ops)."
        )
    if defaults is not None:
        defaults = tuple(deserialize_keras_object(defaults, safe_mode=False))
    cells = None
    if closure is not None:
        values = deserialize_keras_object(list(closure), safe_mode=False)
        cells = tuple(types.CellType(value) for value in values)
    try:
        return types.FunctionType(
            code_object, namespace, code_object.co_name, defaults, cells
        )
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Cannot rebuild the Python lambda in this {kind} config ({error})."
        ) from None


def _global_names(code_object):
    """Names the code (and code nested in it) reads as globals."""
    names = set()
    for instruction in dis.get_instructions(code_object):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            names.add(instruction.argval)
    for const in code_object.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def raise_unknown(kind, name, known):
    """Raise `ValueError("Unknown <kind> 'adm'. Did you mean 'adam'?")`."""
    close = difflib.get_close_matches(
        str(name), [str(k) for k in known], n=3, cutoff=0.6
    )
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    valid = ", ".join(sorted(str(k) for k in known)) if known else "none"
    raise ValueError(f"Unknown {kind} {name!r}.{hint} Valid names: {valid}.")


# The `get` / `deserialize` pair every object family (activations, initializers,
# regularizers, constraints, losses, metrics, optimizers, schedules) offers. Each
# family's `__init__` keeps its own public functions and docstrings and passes
# its name, table and quirks here.


def deserialize_family_object(
    config, custom_objects, module_objects, kind, instantiate=False
):
    """A family's `deserialize`: `deserialize_keras_object` over the family's
    `{name: obj}` table; with `instantiate`, a class that a bare name gives is
    created with its defaults (initializers, regularizers, constraints)."""
    obj = deserialize_keras_object(
        config,
        module_objects=module_objects,
        custom_objects=custom_objects,
        kind=kind,
    )
    return obj() if instantiate and inspect.isclass(obj) else obj


def deserialize_identifier(deserialize, identifier: dict, kind: str):
    """`deserialize(identifier)` for a family getter (`losses.get`, ...): a
    class it cannot locate is an identifier it cannot interpret (Keras's
    ValueError, also a TypeError)."""
    try:
        return deserialize(identifier)
    except TypeError as error:
        if not str(error).startswith("Could not locate class"):
            raise
        raise UninterpretableIdentifierError(
            f"Could not interpret {kind} identifier: {error}"
        ) from None


def get_family_object(
    identifier,
    kind,
    module_objects,
    deserialize,
    expected,
    instantiate=True,
    default=None,
):
    """A family's `get`: what an `activation=`, `*_initializer=`, `loss=` ... names.

    Args:
        identifier: `None` (gives `default`); a name, looked up in
            `module_objects`, then among registered objects; a config dict
            (given to the family's `deserialize`); or an object, returned as is.
        kind: The family's noun for errors (`"activation"`, `"loss"`, ...).
        module_objects: The family's `{name: obj}` table.
        deserialize: The family's own `deserialize(config)`.
        expected: The start of the error message, saying what the family
            accepts (`"A loss must be a name like 'mse', ..."`).
        instantiate: Whether a class (named, described or passed) is created
            with its defaults. Activations keep classes as they are.
        default: What `None` gives (activations: `linear`).

    Returns:
        A callable from the family, or `default`.

    Raises:
        ValueError: For an unknown name (with close matches), and (as an
            `UninterpretableIdentifierError`, also a TypeError) for anything
            that does not end up callable.
    """
    if identifier is None:
        return default
    if isinstance(identifier, str):
        obj = module_objects.get(identifier)
        if obj is None:
            obj = object_registration.get_registered_object(identifier)
        if obj is None:
            raise_unknown(kind, identifier, module_objects)
    elif isinstance(identifier, dict):
        obj = deserialize_identifier(deserialize, identifier, kind)
    else:
        obj = identifier
    if instantiate and inspect.isclass(obj):
        obj = obj()
    if callable(obj):
        return obj
    raise UninterpretableIdentifierError(
        f"Could not interpret {kind} identifier: {expected}; got {identifier!r} "
        f"of type {type(identifier).__name__}."
    )


class UninterpretableIdentifierError(ValueError, TypeError):
    """What a family's `get` (activations, losses, optimizers, ...) raises for
    an identifier it cannot turn into an object.

    A ValueError, as Keras raises, and a TypeError, as lamina raised before.
    """

    _explained = True  # not wrapped again by an outer from_config
