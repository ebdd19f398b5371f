"""Symbolic builds whose output shape comes from running `call` on fake tensors
work where torch's FakeTensorMode refuses Parameter subclasses (torch 2.11 and
other releases before mid-2026): lamina's Variables pass as plain Parameters for
the duration, and are Variables again afterwards."""

import numpy as np
import pytest
import torch
from torch._subclasses import fake_tensor

import lamina
from lamina.backend import shape_inference
from lamina.backend.variables import Variable


class Scale(lamina.layers.Layer):
    def build(self, input_shape):
        self.scale = self.add_weight(shape=(), initializer="ones")

    def call(self, inputs):
        return inputs * self.scale


def _refuses_parameter_subclasses(x):
    # FakeTensorMode's subclass check as torch 2.11 has it: every tensor type
    # but Tensor, FakeTensor and Parameter itself is "unrecognized".
    return (
        isinstance(x, torch.Tensor)
        and not isinstance(x, fake_tensor.FakeTensor)
        and type(x) not in (torch.Tensor, torch.nn.Parameter)
    )


@pytest.fixture(params=["this-torch", "older-torch"])
def fake_mode_support(request, monkeypatch):
    if request.param == "older-torch":
        monkeypatch.setattr(
            fake_tensor, "_check_for_subclass_arg", _refuses_parameter_subclasses
        )
    shape_inference._fake_mode_takes_variables.cache_clear()
    yield request.param
    shape_inference._fake_mode_takes_variables.cache_clear()


def test_the_probe_sees_the_older_behaviour(fake_mode_support):
    if fake_mode_support == "this-torch" and torch.__version__ < (2, 13):
        pytest.skip("this torch refuses Parameter subclasses itself (older-torch)")
    expected = fake_mode_support == "this-torch"
    assert shape_inference._fake_mode_takes_variables() is expected


def test_a_custom_layer_using_its_weight_builds_symbolically(fake_mode_support):
    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(4), Scale()])
    assert model.output_shape == (None, 4)
    assert all(type(w) is Variable for w in model.weights)
    x = np.ones((2, 3), "float32")
    assert lamina.ops.convert_to_numpy(model(x)).shape == (2, 4)


def test_a_built_layers_weights_are_variables_again_after_an_inference(
    fake_mode_support,
):
    layer = Scale()
    layer.build((None, 3))
    spec = layer.compute_output_spec(lamina.KerasTensor((None, 3)))
    assert spec.shape == (None, 3)
    assert type(layer.scale) is Variable
    assert shape_inference._DEMOTED == []


class Subclassed(lamina.Model):
    def __init__(self):
        super().__init__()
        self.hidden = lamina.layers.Dense(4)
        self.scale = Scale()

    def call(self, x):
        return self.scale(self.hidden(x))


def test_weights_built_during_an_inference_are_variables_after_it(fake_mode_support):
    # fit() infers the output spec of an unbuilt subclassed model to build its
    # metrics: the Dense kernel and the Scale weight are made inside the fake run.
    model = Subclassed()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.ones((8, 3), "float32")
    history = model.fit(x, np.ones((8, 4), "float32"), epochs=1, verbose=0)
    assert set(history.history) == {"loss", "mae"}
    assert len(model.weights) == 3
    assert all(type(w) is Variable for w in model.weights)
    assert shape_inference._DEMOTED == []
