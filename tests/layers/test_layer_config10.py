"""Layer.get_config's automatic config, Layer.from_config's errors and the build
config of a `build(self)` layer built by a call, as Keras 3 gives them."""

import numpy as np
import pytest

import lamina
from lamina import layers


class _Scaled(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units


class _NoKwargs(layers.Layer):
    def __init__(self, units):
        super().__init__()
        self.units = units


def test_automatic_config_puts_the_layers_own_policy_and_flag_last():
    layer = _Scaled(3, dtype="float32", trainable=False)
    config = layer.get_config()
    assert list(config) == ["name", "units", "dtype", "trainable"]
    assert config["dtype"]["class_name"] == "DTypePolicy"  # not the string passed
    assert config["trainable"] is False
    assert list(_Scaled(3).get_config()) == ["name", "units", "trainable", "dtype"]


def test_automatic_config_round_trips_through_from_config():
    layer = _Scaled(3, trainable=False, name="scaled")
    again = _Scaled.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()


def test_automatic_config_leaves_out_a_name_init_cannot_take():
    assert "name" not in _NoKwargs(4).get_config()


def test_from_config_names_the_class_and_config_in_a_type_error():
    with pytest.raises(TypeError, match="Error when deserializing class '_NoKwargs'"):
        _NoKwargs.from_config(_NoKwargs(4).get_config())  # `trainable` unknown


@lamina.saving.register_keras_serializable(package="test_layer_config10")
class _BuildsWithoutShape(layers.Layer):
    def build(self):
        self.w = self.add_weight(shape=(3,), initializer="ones")

    def call(self, x):
        return x * self.w


def test_build_without_shape_saves_an_empty_shapes_dict_and_reloads(tmp_path):
    model = lamina.Sequential([_BuildsWithoutShape()])
    model(np.ones((2, 3), "float32"))
    assert model.layers[0].get_build_config() == {"shapes_dict": {}}
    model.layers[0].w.assign(np.array([1.0, 2.0, 3.0], "float32"))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = lamina.saving.load_model(path)
    np.testing.assert_allclose(loaded.layers[0].w.numpy(), [1.0, 2.0, 3.0])
    assert loaded.layers[0].get_build_config() == {"shapes_dict": {}}
