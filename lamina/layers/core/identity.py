"""Identity: a layer that returns its inputs unchanged."""

from lamina import backend, tree
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.layer import Layer


class Identity(Layer):
    """Returns its inputs (a tensor or a nested structure) as they are; a
    placeholder where a layer is expected but nothing should happen. Masks pass
    through.

    Example:
    >>> lamina.layers.Identity()(np.array([1.0, 2.0], "float32")).tolist()
    [1.0, 2.0]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs, **kwargs):
        def _spec(x):
            dtype = x.dtype
            if backend.is_float_dtype(dtype):
                dtype = self.compute_dtype
            return KerasTensor(x.shape, dtype=dtype)

        return tree.map_structure(_spec, inputs)

    def get_config(self):
        return super().get_config()
