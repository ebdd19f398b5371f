"""Optimizer slots live on their weight's device, not lamina's default one: a
model kept on the CPU of a GPU machine trains with any optimizer. The `meta`
device stands in for the GPU as lamina's device (it has no data, so anything
placed there by mistake fails the update)."""

import numpy as np
import pytest
import torch

import lamina

NAMES = [
    "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw", "ftrl",
    "lamb", "lion", "muon", "nadam", "rmsprop", "sgd",
]  # fmt: skip


def _one_update(name):
    lamina.utils.set_random_seed(0)
    weights = [
        torch.nn.Parameter(torch.linspace(-1, 1, 12).reshape(3, 4)),
        torch.nn.Parameter(torch.linspace(0, 1, 4)),
    ]
    grads = [torch.full((3, 4), 0.5), torch.full((4,), -0.25)]
    optimizer = lamina.optimizers.get(name)
    for _ in range(2):
        optimizer.apply_gradients(zip(grads, weights))
    return optimizer, [w.detach().numpy().copy() for w in weights]


@pytest.mark.parametrize("name", NAMES)
def test_slots_are_made_on_the_weights_device(name):
    _, expected = _one_update(name)
    lamina.backend.set_device("meta")
    try:
        optimizer, got = _one_update(name)
    finally:
        lamina.backend.set_device(None)
    assert {v.device.type for v in optimizer.variables} == {"cpu"}
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
