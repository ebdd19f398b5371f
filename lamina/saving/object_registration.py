"""Registration of user classes and functions so saved configs can name them."""

import inspect

_GLOBAL_CUSTOM_OBJECTS = {}
_GLOBAL_CUSTOM_NAMES = {}
_SCOPE_STACK = []


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Decorator that lets a class or function be found by name when loading.

    Its config is written with `registered_name = "package>Name"`, as Keras does.
    """

    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(
                "Cannot register a class that does not have a get_config() method: "
                f"{arg.__name__} must define get_config() so that it can be saved "
                "and rebuilt."
            )
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj) -> str:
    """`"package>Name"` for a registered object, else its plain `__name__`."""
    if obj in _GLOBAL_CUSTOM_NAMES:
        return _GLOBAL_CUSTOM_NAMES[obj]
    return obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object called `name` in scope, registry, `custom_objects` or `module_objects`."""
    for scope in reversed(_SCOPE_STACK):
        if name in scope:
            return scope[name]
    if name in _GLOBAL_CUSTOM_OBJECTS:
        return _GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def get_custom_objects() -> dict:
    """The live global registry, `{"package>Name": obj}`; it may be edited."""
    return _GLOBAL_CUSTOM_OBJECTS


class CustomObjectScope:
    """`with CustomObjectScope({"MyLayer": MyLayer}):` makes names resolvable inside."""

    def __init__(self, custom_objects: dict | None = None):
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _SCOPE_STACK.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _SCOPE_STACK.pop()


custom_object_scope = CustomObjectScope
