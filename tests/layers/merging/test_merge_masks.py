"""Merge layers combine masks as Keras 3 does: a step is kept if any input
keeps it, and an input without a mask leaves no mask."""

import os

import numpy as np
import pytest
import torch

from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")

A = torch.tensor([[True, False, False]])
B = torch.tensor([[False, False, True]])


@pytest.mark.parametrize("layer", [layers.Add(), layers.Multiply(), layers.Average()])
def test_masks_are_combined_with_or(layer):
    inputs = [torch.ones(1, 3, 2), torch.ones(1, 3, 2)]
    assert layer.compute_mask(inputs, [A, B]).tolist() == [[True, False, True]]
    assert layer.compute_mask(inputs, [A, None]) is None
    assert layer.compute_mask(inputs, None) is None


def test_same_as_keras():
    keras = pytest.importorskip("keras")
    inputs = [np.ones((1, 3, 2), "float32")] * 2
    theirs = keras.layers.Add().compute_mask(inputs, [A.numpy(), B.numpy()])
    ours = layers.Add().compute_mask([torch.ones(1, 3, 2)] * 2, [A, B])
    np.testing.assert_array_equal(np.asarray(theirs), ours.numpy())
