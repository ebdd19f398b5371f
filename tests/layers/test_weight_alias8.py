"""A weight assigned to a second attribute is an alias: both names read it, it
stays one weight (Keras tracks it once), and training and files see it once."""

import numpy as np

import lamina as keras
from lamina import layers


class _Aliased(layers.Layer):
    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 2), name="kernel")
        self.alias = self.kernel

    def call(self, x):
        return x @ self.alias + 0 * (x @ self.kernel)


class _Renamed(layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 2), name="kernel")

    def call(self, x):
        return x @ self.w


def test_alias_keeps_both_names_and_one_weight(tmp_path):
    layer = _Aliased()
    layer(np.ones((1, 3), "float32"))
    assert layer.kernel is layer.alias
    assert len(layer.weights) == 1
    assert layer.weights[0].path == f"{layer.name}/kernel"
    assert len(list(layer.parameters())) == 1

    model = keras.Sequential([keras.Input((3,)), layer])
    model.compile("sgd", "mse")
    before = np.array(layer.kernel.detach().cpu())
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    assert not np.allclose(before, layer.alias.detach().cpu().numpy())

    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects={"_Aliased": _Aliased})
    np.testing.assert_array_equal(
        loaded.layers[0].kernel.detach().cpu(), layer.kernel.detach().cpu()
    )
    assert loaded.layers[0].kernel is loaded.layers[0].alias


def test_first_assignment_still_names_the_torch_parameter():
    layer = _Renamed()
    layer(np.ones((1, 3), "float32"))
    # torch's name follows the attribute; Keras's name and path stay "kernel".
    assert [n for n, _ in layer.named_parameters()] == ["w"]
    assert layer.w.name == "kernel"


def test_deleting_one_alias_keeps_the_weight():
    layer = _Aliased()
    layer(np.ones((1, 3), "float32"))
    del layer.alias
    assert len(layer.weights) == 1
    assert layer.kernel.shape == (3, 2)
