"""Layers held in nested lists, tuples and dicts are tracked, as Keras 3 tracks
them: they are sub-layers, their weights train, and weights files have Keras's
`container` layout."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers

_KINDS = ("list_of_tuples", "dict_of_containers", "tuple_of_tuples", "list_of_lists")


def _blocks(base, kind):
    dense = [base.layers.Dense(4, use_bias=False, name=f"d_{i}") for i in range(3)]
    return {
        "list_of_tuples": [(d,) for d in dense],
        "dict_of_containers": {"a": [dense[0]], "b": (dense[1], dense[2])},
        "tuple_of_tuples": ((dense[0], dense[1]), (dense[2],)),
        "list_of_lists": [[dense[0], dense[1]], [dense[2]]],
    }[kind]


def _make_model_class(base):
    class Nested(base.Model):
        def __init__(self, kind, **kwargs):
            super().__init__(**kwargs)
            self.blocks = _blocks(base, kind)
            self.out = base.layers.Dense(2, name="out")

        def call(self, x):
            groups = (
                self.blocks.values() if isinstance(self.blocks, dict) else self.blocks
            )
            for group in groups:
                for layer in group:
                    x = layer(x)
            return self.out(x)

    return Nested


@pytest.mark.parametrize("kind", _KINDS)
def test_nested_layers_are_sub_layers_and_train(kind):
    model = _make_model_class(lamina)(kind)
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    model(x)
    assert [layer.name for layer in model.layers] == ["d_0", "d_1", "d_2", "out"]
    assert len(model.trainable_weights) == 5
    assert len(list(model.parameters())) == 5  # torch sees them too
    before = model.layers[0].kernel.numpy().copy()
    model.compile("sgd", "mse")
    model.fit(x, np.ones((16, 2), "float32"), epochs=1, verbose=0)
    assert not np.allclose(model.layers[0].kernel.numpy(), before)


def test_a_tuple_of_plain_values_stays_a_tuple():
    layer = layers.Dense(2)
    layer.sizes = ((None, 3), (None, 4))
    assert type(layer.sizes) is tuple


@pytest.mark.parametrize("kind", _KINDS)
def test_weights_files_move_both_ways_with_keras(kind, tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    x = np.ones((2, 3), "float32")
    ours = _make_model_class(lamina)(kind)
    ours(x)
    ours.set_weights(
        [np.full(w.shape, i + 1.0, "float32") for i, w in enumerate(ours.get_weights())]
    )
    theirs = _make_model_class(keras)(kind)
    theirs(x)
    path = str(tmp_path / "nested.weights.h5")
    ours.save_weights(path)
    theirs.load_weights(path)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    theirs.set_weights([w * 2 for w in theirs.get_weights()])
    theirs.save_weights(path)
    ours.load_weights(path)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


class _Stages(lamina.Model):
    """Layers put into lists and dicts inside a container after assigning it."""

    def __init__(self):
        super().__init__()
        self.stages = [[] for _ in range(2)]
        self.named = {"a": []}
        for i in range(2):
            self.stages[i].append(layers.Dense(4, name=f"s{i}"))
        self.named["a"].append(layers.Dense(4, name="c"))
        self.named["b"] = [layers.Dense(4, name="d")]

    def call(self, x):
        for stage in self.stages:
            for layer in stage:
                x = layer(x)
        return self.named["b"][0](self.named["a"][0](x))


def test_layers_added_to_inner_lists_later_are_tracked_and_train():
    model = _Stages()
    x = np.ones((8, 3), "float32")
    model(x)
    assert sorted(layer.name for layer in model.layers) == ["c", "d", "s0", "s1"]
    assert len(model.trainable_weights) == 8
    assert len(list(model.parameters())) == 8
    before = model.get_weights()
    model.compile("sgd", "mse")
    model.fit(x, np.zeros((8, 4), "float32"), verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_inner_lists_stay_tracked_in_a_deep_copy_and_files_round_trip(tmp_path):
    import copy

    model = _Stages()
    model(np.ones((2, 3), "float32"))
    twin = copy.deepcopy(model)
    twin.stages[0].append(layers.Dense(4, name="late"))
    assert "late" in [layer.name for layer in twin.layers]
    assert "late" not in [layer.name for layer in model.layers]
    path = str(tmp_path / "stages.weights.h5")
    model.save_weights(path)
    again = _Stages()
    again(np.ones((2, 3), "float32"))
    again.load_weights(path)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_settings_lists_inside_a_container_stay_plain_lists():
    layer = layers.Dense(2)
    layer.settings = {"sizes": [1, 2], "names": ["a"], "pending": []}
    assert type(layer.settings["sizes"]) is list
    assert type(layer.settings["names"]) is list
