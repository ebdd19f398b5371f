"""Layers held in lists or dicts that also hold other things (an Input, a
number) are tracked, as Keras tracks them (found running the keras-io
Forward-Forward example: `self.layer_list = [keras.Input(...)]`, then
`self.layer_list += [FFDense(...)]`)."""

import numpy as np

import lamina as keras


class _Holder(keras.Model):
    def __init__(self):
        super().__init__()
        self.mixed = [keras.Input((3,)), keras.layers.Dense(2)]
        self.with_number = [1, keras.layers.Dense(4)]
        self.mixed_dict = {"dense": keras.layers.Dense(5), "size": 3}
        self.grown = [keras.Input((3,))]
        self.grown += [keras.layers.Dense(6)]
        self.units = [7, 8]

    def call(self, x):
        for layer in (self.mixed[1], self.with_number[1]):
            x = layer(x)
        return x


def test_layers_in_mixed_lists_and_dicts_are_tracked():
    model = _Holder()
    assert [layer.units for layer in model.layers] == [2, 4, 5, 6]
    modules = dict(model.named_modules())
    assert {"mixed.0", "with_number.0", "mixed_dict.dense", "grown.0"} <= set(modules)


def test_plain_settings_lists_stay_plain_lists():
    model = _Holder()
    assert type(model.units) is list and model.units == [7, 8]


def test_mixed_list_layers_weights_are_trainable_weights():
    model = _Holder()
    model(np.ones((1, 3), "float32"))
    assert len(model.trainable_weights) == 4  # two built Dense layers
    state = model.state_dict()
    assert "mixed.0.kernel" in state and "with_number.0.bias" in state


def test_mixed_list_keeps_list_behaviour():
    model = _Holder()
    assert len(model.mixed) == 2 and isinstance(model.mixed, list)
    assert model.mixed_dict["size"] == 3
    model.mixed.pop()
    assert [layer.units for layer in model.layers] == [4, 5, 6]
