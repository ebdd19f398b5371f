"""Objects to and from Keras 3's config dicts: `module`, `class_name`, `config`,
`registered_name`. Built-in classes are written under their Keras namespace
(`keras.layers`, `keras.initializers`, ...) so configs move between lamina and Keras.
"""

import difflib
import importlib
import inspect
import types

import numpy as np
import torch

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
}


# Keras writes these under the top-level "keras" namespace.
_TOP_LEVEL_NAMES = {"Sequential", "Model", "Functional", "DTypePolicy"}


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
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): serialize_keras_object(v) for k, v in obj.items()}
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
    if isinstance(obj, types.FunctionType) or isinstance(
        obj, types.BuiltinFunctionType
    ):
        namespace = _public_namespace(obj)
        if namespace is not None:
            return {
                "module": namespace,
                "class_name": "function",
                "config": obj.__name__,
                "registered_name": obj.__name__,
            }
        registered = object_registration.get_registered_name(obj)
        return {
            "module": _user_module(obj),
            "class_name": "function",
            "config": registered,
            "registered_name": registered,
        }
    if hasattr(obj, "get_config"):
        cls = obj.__class__
        config = obj.get_config()
        namespace = _public_namespace(cls)
        if namespace is not None:
            result = {
                "module": namespace,
                "class_name": cls.__name__,
                "config": serialize_keras_object(config),
                "registered_name": None,
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
        return result
    raise TypeError(
        f"Cannot serialize an object of type {type(obj).__name__}: it is not a "
        "number, string, list, dict, array, tensor, function, or an object with "
        "get_config(). Give it a get_config() method."
    )


def _user_module(obj):
    module = getattr(obj, "__module__", None)
    return None if module == "__main__" else module


def deserialize_keras_object(
    config, module_objects=None, custom_objects=None, safe_mode=True, kind="object"
):
    """Rebuild the object that `serialize_keras_object` described.

    Args:
        config: A config dict, a plain value, or a name (looked up in
            `module_objects`, then the registry and `custom_objects`).
        module_objects: `{name: obj}` of the family being deserialized
            (e.g. all activations), for bare names.
        custom_objects: User classes and functions by name.
        safe_mode: Refuse configs that would run arbitrary code.
        kind: What is being loaded, for error messages ("activation", ...).
    """
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        obj = object_registration.get_registered_object(
            config, custom_objects, module_objects
        )
        if obj is None:
            raise_unknown(kind, config, module_objects or {})
        return obj
    if isinstance(config, (list, tuple)):
        return [
            deserialize_keras_object(c, module_objects, custom_objects, safe_mode, kind)
            for c in config
        ]
    if not isinstance(config, dict):
        raise TypeError(f"Cannot deserialize {kind} from {type(config).__name__}.")
    if "class_name" not in config:
        return config  # a plain dict value
    class_name = config["class_name"]
    inner = config.get("config")
    if class_name == "__numpy__":
        return np.asarray(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        from lamina.backend import convert_to_tensor

        return convert_to_tensor(np.asarray(inner["value"]), dtype=inner["dtype"])
    if class_name == "__lambda__":
        raise ValueError(
            f"Refusing to load a Python lambda ({kind}) from a config: it would run "
            "code stored in the file. Pass the function in custom_objects instead."
        )
    registered_name = config.get("registered_name")
    if class_name == "function":
        name = inner if isinstance(inner, str) else registered_name
        obj = _resolve(name, config.get("module"), custom_objects, module_objects)
        if obj is None:
            obj = _resolve(registered_name, None, custom_objects, module_objects)
        if obj is None:
            raise_unknown(kind, name, module_objects or {})
        return obj
    cls = None
    if registered_name and registered_name != class_name:
        cls = object_registration.get_registered_object(registered_name, custom_objects)
    if cls is None:
        cls = _resolve(class_name, config.get("module"), custom_objects, module_objects)
    if cls is None:
        raise TypeError(
            f"Could not locate class '{class_name}' (module "
            f"{config.get('module')!r}) while loading a {kind}. Register it with "
            "@lamina.saving.register_keras_serializable() or pass it in "
            "custom_objects={'" + str(class_name) + "': " + str(class_name) + "}."
        )
    if not inspect.isclass(cls) or not hasattr(cls, "from_config"):
        return cls
    from_config_kwargs = {}
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        from_config_kwargs["custom_objects"] = custom_objects
    with object_registration.CustomObjectScope(custom_objects or {}):
        instance = cls.from_config(inner or {}, **from_config_kwargs)
        build_config = config.get("build_config")
        if (
            build_config
            and hasattr(instance, "build_from_config")
            and not getattr(instance, "built", True)
        ):
            instance.build_from_config(build_config)
    return instance


def _resolve(name, module, custom_objects, module_objects):
    if name is None:
        return None
    obj = object_registration.get_registered_object(name, custom_objects)
    if obj is not None:
        return obj
    if module in PUBLIC_MODULES:
        lamina_module = importlib.import_module(PUBLIC_MODULES[module])
        obj = getattr(lamina_module, name, None)
        if obj is not None:
            return obj
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def raise_unknown(kind, name, known):
    """Raise `ValueError("Unknown <kind> 'adm'. Did you mean 'adam'?")`."""
    close = difflib.get_close_matches(
        str(name), [str(k) for k in known], n=3, cutoff=0.6
    )
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    valid = ", ".join(sorted(str(k) for k in known)) if known else "none"
    raise ValueError(f"Unknown {kind} {name!r}.{hint} Valid names: {valid}.")
