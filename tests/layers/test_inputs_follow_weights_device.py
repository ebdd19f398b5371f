"""A tensor passed to a layer on another device than the layer's weights is
copied to the weights' device, as Keras's torch backend does (its ops convert
inputs onto the device). Tested on the CPU by moving the weights to `meta`, the
shape-only device torch has everywhere; on a GPU the same path takes CPU tensors
to CUDA."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers


def test_a_cpu_tensor_follows_the_weights_to_their_device():
    layer = layers.Dense(3)
    layer.build((None, 4))
    layer.to("meta")
    out = layer(torch.ones(2, 4))
    assert out.device.type == "meta"
    assert tuple(out.shape) == (2, 3)


def test_tensors_in_keyword_arguments_move_too():
    attention = layers.MultiHeadAttention(num_heads=1, key_dim=2)
    attention.build((None, 3, 2), (None, 3, 2))
    attention.to("meta")
    query = torch.ones(1, 3, 2)
    out = attention(query, value=torch.ones(1, 3, 2))
    assert out.device.type == "meta"


def test_the_keras_mask_travels_with_the_moved_tensor():
    seen = {}

    class Probe(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(), initializer="ones")

        def call(self, inputs, mask=None):
            seen["mask"] = mask
            return inputs * self.w

    probe = Probe()
    probe.build((None, 3))
    probe.to("meta")
    x = torch.ones(2, 3)
    x._keras_mask = torch.tensor([[True, True, False]] * 2)
    with pytest.warns(UserWarning, match="does not support masking"):  # as in Keras
        probe(x)
    assert seen["mask"].device.type == "meta"


def test_a_model_moved_to_another_device_takes_inputs_there():
    # lamina's own device (the CPU here) is not where this model's weights are:
    # the weights win, so `model.to(...)` keeps working as in torch.
    model = lamina.Sequential([lamina.Input((4,)), layers.Dense(2)])
    model.to("meta")
    out = model(np.ones((3, 4), "float32"))
    assert out.device.type == "meta"


def test_inputs_on_the_weights_device_are_passed_as_they_are():
    layer = layers.Dense(2)
    x = torch.ones(3, 4, device=lamina.backend.get_device())
    layer(x)
    seen = {}
    original = layer.call

    def spy(inputs):
        seen["same"] = inputs is x
        return original(inputs)

    layer.call = spy
    layer(x)
    assert seen["same"]


def test_a_layer_moved_after_its_first_call_takes_inputs_to_the_new_device():
    # torch registers new Parameters when moving to `meta` (it moves CPU -> CUDA
    # in place): the layer looks its weights up again rather than trust the
    # first one it saw.
    layer = layers.Dense(3)
    layer(torch.ones(2, 4))
    layer.to("meta")
    assert layer(torch.ones(2, 4)).device.type == "meta"
