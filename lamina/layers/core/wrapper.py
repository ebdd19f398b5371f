"""Wrapper: the base of layers that hold another layer and change its behaviour."""

from lamina.layers.layer import Layer
from lamina.saving import serialization_lib


class Wrapper(Layer):
    """Base class of layers that wrap one other layer (`self.layer`), such as
    `SpectralNormalization`. The wrapped layer's weights are the wrapper's
    weights, under the attribute name `layer` in saved files.

    Subclasses implement `call` (usually calling `self.layer`); `build` builds
    the wrapped layer for the same input shape.

    Args:
        layer: The layer instance to wrap.

    Example:
    >>> class Doubled(lamina.layers.Wrapper):
    ...     def call(self, inputs):
    ...         return 2 * self.layer(inputs)
    >>> wrapped = Doubled(lamina.layers.Dense(3, kernel_initializer="ones"))
    >>> wrapped(np.ones((1, 2), "float32")).tolist()
    [[4.0, 4.0, 4.0]]
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                f"Layer {layer!r} supplied to Wrapper isn't a supported layer "
                "type. Please ensure wrapped layer is a valid Keras layer: "
                f"{type(self).__name__} expects a layer instance such as Dense(8)."
            )
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer._build_with_shapes(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "layer": serialization_lib.serialize_keras_object(self.layer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = serialization_lib.deserialize_keras_object(
            config.pop("layer"), custom_objects=custom_objects, kind="layer"
        )
        return cls(layer, **config)
