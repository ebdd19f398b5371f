"""Keras's data layers carry `self.backend` (found by running Keras's own
preprocessing tests on lamina, and by KerasHub's Stable Diffusion 3 rescaling
layers, session 12)."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers


class _Rescale(layers.Rescaling):
    # KerasHub's LatentRescaling pattern.
    def call(self, x):
        dtype = self.compute_dtype
        return self.backend.cast(x, dtype) * self.backend.cast(self.scale, dtype)


def test_rescaling_subclass_computes_through_self_backend():
    layer = _Rescale(2.0)
    out = layer(np.ones((1, 2), "float32"))
    np.testing.assert_allclose(out.cpu().numpy(), [[2.0, 2.0]])
    # Not layer state or config.
    assert list(layer.state_dict()) == []
    assert "backend" not in layer.get_config()
    model = lamina.Sequential([lamina.Input((2,)), _Rescale(3.0)])
    clone = lamina.models.clone_model(model)
    np.testing.assert_allclose(
        clone(np.ones((1, 2), "float32")).cpu().numpy(), [[3, 3]]
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.Rescaling(1.0),
        lambda: layers.Normalization(),
        lambda: layers.Discretization(bin_boundaries=[0.5]),
        lambda: layers.CategoryEncoding(num_tokens=3),
        lambda: layers.MelSpectrogram(),
        lambda: layers.RandomFlip(),
        lambda: layers.Resizing(2, 2),
        lambda: layers.CenterCrop(2, 2),
    ],
)
def test_data_layers_have_a_backend_namespace(make):
    layer = make()
    backend = layer.backend
    assert backend is layer.backend  # one per layer
    assert backend.name == "torch"
    full = backend.numpy.full((2, 1), 0.5, dtype="float32")
    assert full.dtype == torch.float32 and full.shape == (2, 1)
    assert backend.shape(full) == (2, 1)


def test_a_subclass_may_assign_its_backend():
    layer = layers.RandomFlip()
    marker = object()
    layer.backend = marker
    assert layer.backend is marker
