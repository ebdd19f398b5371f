"""lamina.legacy.saving: Keras 2's `{"class_name", "config"}` serializers
(`keras.legacy.saving`), the same functions as `lamina.utils.legacy`."""

from lamina.utils.legacy import deserialize_keras_object, serialize_keras_object

__all__ = ["deserialize_keras_object", "serialize_keras_object"]
