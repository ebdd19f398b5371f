"""Pipeline: apply a list of preprocessing layers one after another."""

import torch

from lamina.layers.layer import Layer
from lamina.saving import serialization_lib


class Pipeline(Layer):
    """Calls `layers` in order, each on the previous one's output.

    Unlike `Sequential`, a pipeline is not a model: it holds no graph and
    passes whatever the layers return (tensors, dicts of images and boxes)
    straight on. `training` and `mask` are forwarded to the layers that take
    them.

    Args:
        layers: A list of layers.
        name: The layer's name.

    Example:
    >>> pipeline = lamina.layers.Pipeline(
    ...     [lamina.layers.Rescaling(2.0), lamina.layers.Rescaling(0.5, offset=1.0)]
    ... )
    >>> pipeline(np.array([[1.0, 2.0]], "float32")).tolist()
    [[2.0, 3.0]]
    """

    def __init__(self, layers, name=None):
        super().__init__(name=name)
        if not isinstance(layers, (list, tuple)) or not all(
            isinstance(layer, Layer) for layer in layers
        ):
            raise ValueError(
                f"Pipeline expects `layers` to be a list of layers; got "
                f"layers={layers!r}."
            )
        # A ModuleList, so that `.to(device)` and `state_dict()` reach them.
        self._pipeline_layers = torch.nn.ModuleList(layers)

    @property
    def layers(self):
        return list(self._pipeline_layers)

    def call(self, inputs, training=True, mask=None):
        outputs = inputs
        for layer in self._pipeline_layers:
            kwargs = {}
            if layer._call_has_mask_arg and mask is not None:
                kwargs["mask"] = mask
            if layer._call_has_training_arg and training is not None:
                kwargs["training"] = training
            outputs = layer(inputs, **kwargs)
            inputs = outputs
            mask = getattr(outputs, "_keras_mask", None)
        return outputs

    @classmethod
    def from_config(cls, config):
        layers = config.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise ValueError(
                "A Pipeline config needs a `layers` key holding a list of "
                f"serialized layers; got layers={layers!r}."
            )
        config = {**config}
        config["layers"] = [
            serialization_lib.deserialize_keras_object(x) for x in layers
        ]
        return cls(**config)

    def get_config(self):
        return {
            "layers": serialization_lib.serialize_keras_object(self.layers),
            "name": self.name,
        }
