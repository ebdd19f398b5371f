"""TimeDistributed: apply one layer to every timestep of a sequence."""

from lamina import backend
from lamina.layers.layer import Layer
from lamina.saving import serialization_lib


class TimeDistributed(Layer):
    """Applies `layer` to every temporal slice of `(batch, time, ...)` inputs,
    with the same weights at every step.

    The time axis is folded into the batch: the inner layer runs once on
    `(batch * time, ...)` and the result is unfolded to `(batch, time, ...)`,
    one kernel launch instead of one per timestep. For layers that act on each
    sample independently (Dense, Conv2D, ...) this equals Keras's per-step
    loop.

    Args:
        layer: The layer to apply, e.g. `Dense(8)` or `Conv2D(16, 3)`.

    Input shape `(batch, time, ...)`; output shape `(batch, time) + the inner
    layer's output shape without its batch axis`.

    Example:
    >>> from lamina.layers import Dense
    >>> layer = TimeDistributed(Dense(8))
    >>> tuple(layer(np.ones((2, 10, 3), "float32")).shape)
    (2, 10, 8)
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                "TimeDistributed expects `layer` to be a layer instance such as "
                f"Dense(8); got layer={layer!r}."
            )
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def _get_child_input_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(
                f"Layer '{self.name}' (TimeDistributed) expects inputs of rank 3 or "
                f"more, (batch, time, ...); got input shape {input_shape}."
            )
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape):
        child_shape = self._get_child_input_shape(tuple(input_shape))
        if not self.layer.built:
            self.layer._build_with_shapes(child_shape)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        batch, steps = inputs.shape[0], inputs.shape[1]
        kwargs = {}
        if mask is not None:
            if mask.ndim < 2 or tuple(mask.shape[:2]) != (batch, steps):
                raise ValueError(
                    f"Layer '{self.name}' (TimeDistributed): The `mask` passed to "
                    f"the `TimeDistributed` layer has a shape {tuple(mask.shape)} "
                    "whose first two axes should be (batch, time) = "
                    f"{(batch, steps)}."
                )
            if self.layer._call_has_mask_arg:
                kwargs["mask"] = mask.reshape((batch * steps,) + tuple(mask.shape[2:]))
        if self.layer._call_has_training_arg:
            kwargs["training"] = training
        folded = inputs.reshape((batch * steps,) + tuple(inputs.shape[2:]))
        # `layer.call` skips the wrapped layer's input cast (and a mixed
        # policy's autocast); Keras's ops promote the inputs to the weights'
        # dtype instead, so a wrapper of another dtype still works.
        if self.layer.autocast and folded.is_floating_point():
            folded = folded.to(backend.to_torch_dtype(self.layer.variable_dtype))
        outputs = self.layer.call(folded, **kwargs)
        return outputs.reshape((batch, steps) + tuple(outputs.shape[1:]))

    def compute_output_shape(self, input_shape):
        child_shape = self._get_child_input_shape(tuple(input_shape))
        child_output = tuple(self.layer.compute_output_shape(child_shape))
        return (child_output[0], input_shape[1], *child_output[1:])

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
