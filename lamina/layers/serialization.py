"""`layers.serialize` / `layers.deserialize`: a layer to its Keras 3 config dict
and back."""

import inspect

from lamina.layers.layer import Layer
from lamina.saving import serialization_lib


def serialize(layer) -> dict:
    """The Keras 3 config dict of `layer`: `module`, `class_name`, `config`,
    `registered_name` (and `build_config` once built).

    Args:
        layer: A layer instance.

    Example:
    >>> config = lamina.layers.serialize(lamina.layers.Dense(2))
    >>> config["module"], config["class_name"], config["config"]["units"]
    ('keras.layers', 'Dense', 2)
    """
    if layer is None or isinstance(layer, (bool, int, float, str)):
        # As Keras: plain values pass through (KerasHub's Task.get_config
        # serializes `preprocessor=None`).
        return serialization_lib.serialize_keras_object(layer)
    if not isinstance(layer, Layer):
        raise TypeError(
            "layers.serialize expects a layer instance such as Dense(2); got "
            f"{layer!r} of type {type(layer).__name__}."
        )
    return serialization_lib.serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """A new layer built from a config dict that `serialize` (or Keras) wrote.

    Args:
        config: A dict with `class_name` and `config` (and usually `module`).
        custom_objects: Optional `{name: class}` for user-defined layers.

    Raises:
        ValueError: If the config describes something other than a layer.

    Example:
    >>> layer = lamina.layers.deserialize(lamina.layers.serialize(
    ...     lamina.layers.Dense(2, name="head")))
    >>> type(layer).__name__, layer.name
    ('Dense', 'head')
    """
    obj = serialization_lib.deserialize_keras_object(
        config,
        module_objects=_layer_classes(),
        custom_objects=custom_objects,
        kind="layer",
    )
    if not isinstance(obj, Layer):
        raise ValueError(
            "layers.deserialize expects the config of a layer; got a config "
            f"that describes {type(obj).__name__}: {config!r}."
        )
    return obj


def _layer_classes() -> dict:
    """The public layer classes by name, for configs that give no `module`."""
    import lamina.layers

    found = {}
    for name in lamina.layers.__all__:
        obj = getattr(lamina.layers, name)
        if inspect.isclass(obj) and issubclass(obj, Layer):
            found[name] = obj
    return found
