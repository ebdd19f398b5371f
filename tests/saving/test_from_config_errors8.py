"""A class whose get_config returns layers it never deserializes in
from_config fails to load with Keras's explanation, not a raw TypeError from
deep inside the graph rebuild ('_TrackedDict' object is not callable)."""

import pytest

import lamina


@lamina.saving.register_keras_serializable(package="Session8")
class _Scale(lamina.layers.Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@lamina.saving.register_keras_serializable(package="Session8")
class _HoldsLayers(lamina.layers.Layer):
    def __init__(self, first, **kwargs):
        super().__init__(**kwargs)
        self.first = first  # a config dict when loading: never deserialized
        self.dense = lamina.layers.Dense(4)

    def get_config(self):
        return {**super().get_config(), "first": self.first}

    def call(self, x):
        return self.first(self.dense(x))


def test_undeserialized_sublayers_get_keras_explanation(tmp_path):
    inputs = lamina.Input((3,))
    model = lamina.Model(inputs, _HoldsLayers(_Scale(0.5))(inputs))
    path = str(tmp_path / "m.keras")
    model.save(path)
    with pytest.raises(TypeError, match="are explicitly deserialized") as info:
        lamina.models.load_model(path)
    # The message is given once, with the error that was met.
    assert str(info.value).count("explicitly deserialized") == 1
    assert "not callable" in str(info.value)
