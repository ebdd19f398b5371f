"""Regressions found running keras-io vision/generative examples (helper-52)."""

import copy
import os

import numpy as np
import pytest
import torch

import lamina as keras
from lamina import layers


class _Blocks(layers.Layer):
    """Layers put in containers that were empty when assigned (shiftvit.py)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.blocks = list()
        for _ in range(2):
            self.blocks.append(layers.Dense(3))
        self.heads = {}
        self.heads["out"] = layers.Dense(2)
        self.sizes = []
        self.sizes.append(3)  # not a layer: stays a plain item

    def build(self, input_shape):
        self.late = []
        self.late.append(layers.Dense(4))

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return self.heads["out"](self.late[0](x))


def test_layers_added_to_empty_list_or_dict_are_tracked():
    layer = _Blocks()
    out = layer(np.ones((2, 5), "float32"))
    assert tuple(out.shape) == (2, 2)
    # Keras 3 counts 4 Dense layers, 8 weights, all trainable.
    assert len(layer.trainable_weights) == 8
    assert len(layer._layers) == 4
    assert layer.sizes == [3]
    keys = set(layer.state_dict())
    assert {
        "blocks.0.kernel",
        "blocks.1.bias",
        "heads.out.kernel",
        "late.0.kernel",
    } <= keys
    # The optimizer reaches them through the model.
    inputs = keras.Input((5,))
    model = keras.Model(inputs, layer(inputs))
    assert len(model.trainable_variables) == 8


def test_tracked_list_follows_removal_and_reassignment():
    layer = _Blocks()
    layer(np.ones((1, 5), "float32"))
    removed = layer.blocks.pop()
    assert all(removed is not m for m in layer.modules())
    assert len(layer.trainable_weights) == 6
    layer.blocks = []  # a new, empty list: the old view goes
    assert "blocks" not in dict(layer.named_children())
    assert len(layer.trainable_weights) == 4
    layer.blocks = 5  # not a container at all
    assert layer.blocks == 5


def test_tracked_containers_survive_deepcopy_and_weight_files(tmp_path):
    layer = _Blocks()
    x = np.random.default_rng(0).normal(size=(2, 5)).astype("float32")
    expected = keras.ops.convert_to_numpy(layer(x))
    clone = copy.deepcopy(layer)
    clone.blocks.append(layers.Dense(3))  # tracked on the copy, not the original
    assert len(layer.blocks._owner._modules["blocks"]) == 2
    assert len(clone._modules["blocks"]) == 3
    assert clone.blocks._owner is clone

    inputs = keras.Input((5,))
    model = keras.Model(inputs, layer(inputs))
    path = os.fspath(tmp_path / "blocks.weights.h5")
    model.save_weights(path)
    other_layer = _Blocks()
    other = keras.Model(inputs, other_layer(inputs))
    other.load_weights(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(other(x)), expected, rtol=1e-6
    )


def test_tracked_layers_match_keras_weight_count():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")

    class KBlocks(k.layers.Layer):
        def __init__(self):
            super().__init__()
            self.blocks = []
            self.blocks.append(k.layers.Dense(3))
            self.heads = {}
            self.heads["out"] = k.layers.Dense(2)

        def call(self, x):
            return self.heads["out"](self.blocks[0](x))

    class LBlocks(layers.Layer):
        def __init__(self):
            super().__init__()
            self.blocks = []
            self.blocks.append(layers.Dense(3))
            self.heads = {}
            self.heads["out"] = layers.Dense(2)

        def call(self, x):
            return self.heads["out"](self.blocks[0](x))

    kl, ll = KBlocks(), LBlocks()
    kl(np.ones((1, 4), "float32"))
    ll(torch.ones(1, 4))
    assert [tuple(w.shape) for w in ll.weights] == [tuple(w.shape) for w in kl.weights]
