"""lamina.saving: Keras 3 model files (`.keras`, `.weights.h5`), configs, and the
registry of user objects."""

from lamina.saving.cloning import clone_model
from lamina.saving.file_editor import KerasFileEditor
from lamina.saving.inspection import summarize
from lamina.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from lamina.saving.saving_api import (
    load_model,
    load_weights,
    model_from_json,
    model_from_yaml,
    save_model,
    save_weights,
)
from lamina.saving.serialization_lib import (
    SafeModeScope,
    deserialize_keras_object,
    serialize_keras_object,
)

__all__ = [
    "CustomObjectScope",
    "KerasFileEditor",
    "SafeModeScope",
    "clone_model",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "load_weights",
    "model_from_json",
    "model_from_yaml",
    "register_keras_serializable",
    "save_model",
    "save_weights",
    "serialize_keras_object",
    "summarize",
]
