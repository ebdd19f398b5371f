"""lamina.utils.legacy: Keras 2's `{"class_name", "config"}` serialization.

Keras 3 keeps these two functions for code written against tf.keras: configs
carry no `module` or `registered_name`, names are looked up in dicts the caller
passes (`module_objects`, `custom_objects`) and in the registry. New code
should use `lamina.utils.serialize_keras_object` / `deserialize_keras_object`.
"""

import inspect

from lamina.saving import object_registration
from lamina.saving.object_registration import (
    CustomObjectScope,
    get_registered_name,
    get_registered_object,
)

# Marks a nested object's config inside a legacy config, as Keras 2 did.
_PASSIVE = "__passive_serialization__"


def serialize_keras_object(instance):
    """`{"class_name": ..., "config": ...}` for an object with `get_config()`,
    its registered name for a function or class, `None` for `None`.

    Example:
    >>> serialize_keras_object(lamina.initializers.Ones())
    {'class_name': 'Ones', 'config': {}}

    Raises:
        ValueError: `instance` has neither `get_config()` nor a `__name__`.
    """
    instance = inspect.unwrap(instance)
    if instance is None:
        return None
    if hasattr(instance, "get_config") and not inspect.isclass(instance):
        config = {}
        for key, item in instance.get_config().items():
            if isinstance(item, str):
                config[key] = item
                continue
            try:
                serialized = serialize_keras_object(item)
            except ValueError:  # plain data (numbers, lists, dicts) stays
                config[key] = item
                continue
            if isinstance(serialized, dict) and not isinstance(item, dict):
                serialized[_PASSIVE] = True
            config[key] = serialized
        return {
            "class_name": get_registered_name(type(instance)),
            "config": config,
        }
    if hasattr(instance, "__name__"):
        return get_registered_name(instance)
    raise ValueError(
        f"Cannot serialize {instance!r}: it has no get_config() method and no "
        "__name__. Give its class a get_config() returning its constructor "
        "arguments."
    )


def _unknown(printable_module_name, name):
    return ValueError(
        f"Unknown {printable_module_name}: '{name}'. Pass it in "
        "`custom_objects` (or `module_objects`), register it with "
        "`lamina.saving.register_keras_serializable()`, or load inside "
        "`lamina.utils.custom_object_scope({...})`."
    )


def _lookup(name, custom_objects, module_objects):
    # Keras 2's order: the caller's custom_objects, then a custom_object_scope
    # and the registry, then module_objects.
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return get_registered_object(name, None, module_objects)


def deserialize_keras_object(
    identifier,
    module_objects=None,
    custom_objects=None,
    printable_module_name="object",
):
    """The object a legacy config (or a name) describes.

    Args:
        identifier: A `{"class_name": ..., "config": ...}` dict, a name (a
            class named this way is instantiated with no arguments, a function
            is returned), a function (returned as is), or `None`.
        module_objects: Dict of names to classes/functions to look names up in.
        custom_objects: Dict of user names to classes/functions, searched first.
        printable_module_name: What the object is, for error messages.

    Example:
    >>> layer = deserialize_keras_object(
    ...     {"class_name": "Dense", "config": {"units": 3}},
    ...     module_objects={"Dense": lamina.layers.Dense})
    >>> layer.units
    3

    Raises:
        ValueError: An unknown name, or an identifier of another kind.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        if "class_name" not in identifier or "config" not in identifier:
            raise ValueError(
                f"Improper config format for {identifier!r}: a legacy config is "
                "a dict with the keys 'class_name' and 'config'."
            )
        class_name = identifier["class_name"]
        cls = _lookup(class_name, custom_objects, module_objects)
        if cls is None:
            raise _unknown(printable_module_name, class_name)
        config = identifier["config"]
        if isinstance(config, dict):
            config = dict(config)
            for key, item in config.items():
                if key == "name":
                    continue  # a name is text, even if a function shares it
                if isinstance(item, dict) and _PASSIVE in item:
                    item = {k: v for k, v in item.items() if k != _PASSIVE}
                    config[key] = deserialize_keras_object(
                        item, module_objects, custom_objects, "config_item"
                    )
                elif isinstance(item, str):
                    found = _lookup(item, custom_objects, module_objects)
                    if inspect.isfunction(found):
                        config[key] = found
        custom_objects = custom_objects or {}
        from_config = getattr(cls, "from_config", None)
        if from_config is None:
            # A function standing for a class: the config holds its kwargs.
            with CustomObjectScope(custom_objects):
                return cls(**config)
        if "custom_objects" in inspect.signature(from_config).parameters:
            return from_config(
                config,
                custom_objects={
                    **object_registration.get_custom_objects(),
                    **custom_objects,
                },
            )
        with CustomObjectScope(custom_objects):
            return from_config(config)
    if isinstance(identifier, str):
        obj = _lookup(identifier, custom_objects, module_objects)
        if obj is None:
            raise _unknown(printable_module_name, identifier)
        return obj() if inspect.isclass(obj) else obj
    if inspect.isfunction(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret serialized {printable_module_name}: {identifier!r}."
    )


__all__ = ["deserialize_keras_object", "serialize_keras_object"]
