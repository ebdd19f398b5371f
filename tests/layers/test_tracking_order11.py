"""Sub-layers are listed in the order they were tracked, across attributes, as
Keras 3 lists them: `layers`, `weights`, `get_weights()` and the optimizer's
variables (which `.keras` files store by index) all follow it. And lists inside
a tuple attribute are tracked like lists anywhere else."""

import copy
import os

import numpy as np
import pytest

import lamina
from lamina import layers


def _interleaved_class(base):
    class Interleaved(base.Model):
        """`convs` and `norms` filled alternately: the common residual-stack
        pattern. Same-shaped layers, so a wrong order would go unnoticed."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.convs = []
            self.norms = []
            for i in range(2):
                self.convs.append(base.layers.Dense(3, name=f"c{i}"))
                self.norms.append(base.layers.Dense(3, name=f"n{i}"))
            self.head = base.layers.Dense(1, name="head")

        def call(self, x):
            for conv, norm in zip(self.convs, self.norms):
                x = norm(conv(x))
            return self.head(x)

    return Interleaved


def test_layers_and_weights_follow_tracking_order_across_attributes():
    model = _interleaved_class(lamina)(name="net")
    model(np.zeros((2, 3), "float32"))
    assert [layer.name for layer in model.layers] == ["c0", "n0", "c1", "n1", "head"]
    assert [w.path for w in model.weights[:4]] == [
        "net/c0/kernel",
        "net/c0/bias",
        "net/n0/kernel",
        "net/n0/bias",
    ]
    model.compile("adam", "mse")
    model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)
    slots = [v.path for v in model.optimizer.variables[2:6:2]]
    assert slots == ["adam/net_c0_kernel_momentum", "adam/net_c0_bias_momentum"]
    momentum = [v.path for v in model.optimizer.variables if "momentum" in v.path]
    assert momentum[2] == "adam/net_n0_kernel_momentum"


class _Base(lamina.Model):
    def call(self, x):
        return x


def _names(model):
    return [layer.name for layer in model.layers]


def test_dicts_and_late_additions_take_their_tracking_time():
    model = _Base()
    model.d = {}
    model.e = {}
    model.d["p"] = layers.Dense(1, name="d_p")
    model.e["q"] = layers.Dense(1, name="e_q")
    model.d["r"] = layers.Dense(1, name="d_r")
    assert _names(model) == ["d_p", "e_q", "d_r"]

    model = _Base()
    model.a = [layers.Dense(1, name="a0")]
    model.h = layers.Dense(1, name="h")
    model.a.append(layers.Dense(1, name="a1"))
    model.b = []
    model.b.append(layers.Dense(1, name="b0"))
    model.a.append(layers.Dense(1, name="a2"))
    assert _names(model) == ["a0", "h", "a1", "b0", "a2"]


def test_a_layer_taken_out_and_put_back_goes_last():
    model = _Base()
    model.a = []
    model.a.extend([layers.Dense(1, name="a0"), layers.Dense(1, name="a1")])
    model.h = layers.Dense(1, name="h")
    model.a.append(model.a.pop(0))
    assert _names(model) == ["a1", "h", "a0"]
    model.h = None
    model.g = layers.Dense(1, name="g")
    assert _names(model) == ["a1", "a0", "g"]


def test_deep_copy_keeps_the_order():
    model = _interleaved_class(lamina)()
    twin = copy.deepcopy(model)
    assert _names(twin) == ["c0", "n0", "c1", "n1", "head"]
    assert all(a is not b for a, b in zip(model.layers, twin.layers))
    twin.convs.append(layers.Dense(3, name="c2"))
    assert _names(twin)[-1] == "c2"


def test_lists_inside_a_tuple_are_tracked():
    model = _Base()
    model.pair = ([layers.Dense(2, name="t0")], [])  # raised a TypeError before
    model.pair[1].append(layers.Dense(2, name="t1"))
    model.later = ([], [])  # plain tuple before: layers put in it were lost
    model.later[1].append(layers.Dense(2, name="u1"))
    model.later[0].append(layers.Dense(2, name="u0"))
    model.deep = [([],)]
    model.deep[0][0].append(layers.Dense(2, name="deep"))
    assert _names(model) == ["t0", "t1", "u1", "u0", "deep"]
    x = np.ones((1, 2), "float32")
    for layer in model.layers:
        layer(x)
    assert len(model.trainable_weights) == 10
    assert len(list(model.parameters())) == 10
    twin = copy.deepcopy(model)
    twin.later[0].append(layers.Dense(2, name="u2"))
    assert _names(twin)[-1] == "u2"


def test_settings_tuples_stay_plain():
    layer = layers.Dense(2)
    layer.sizes = ((None, 3), [4, 5])
    assert type(layer.sizes) is tuple
    assert type(layer.sizes[1]) is list


def test_keras_files_optimizer_state_lands_on_the_right_variables(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.ones((8, 1), "float32")
    theirs_class = keras.saving.register_keras_serializable("order11")(
        _interleaved_class(keras)
    )
    lamina.saving.register_keras_serializable("order11")(_interleaved_class(lamina))
    theirs = theirs_class(name="net")
    theirs(x)
    theirs.compile(keras.optimizers.Adam(0.1), "mse")
    theirs.fit(x, y, epochs=2, verbose=0)
    path = str(tmp_path / "theirs.keras")
    theirs.save(path)

    ours = lamina.saving.load_model(path)
    assert _names(ours) == [layer.name for layer in theirs.layers]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    theirs_slots = {v.path: np.array(v) for v in theirs.optimizer.variables}
    for variable in ours.optimizer.variables:  # the Adam slots, by name
        np.testing.assert_array_equal(variable.numpy(), theirs_slots[variable.path])
    ours.train_on_batch(x, y)  # so the next step is the same on both sides
    theirs.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_layer_held_twice_is_one_sub_layer():
    model = _Base()
    model.head = layers.Dense(3, name="head")
    model.blocks = [layers.Dense(3, name="b0"), model.head]
    model.out = layers.Dense(2, name="out")
    assert _names(model) == ["head", "b0", "out"]


class _Block(lamina.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.a = layers.Dense(2, name="a")
        self.b = layers.Dense(2, name="b")

    def call(self, x):
        return self.b(self.a(x))


def test_a_sub_layer_unfrozen_inside_a_frozen_one_trains():
    # LoRA's pattern (KerasHub's enable_lora): freeze everything, then unfreeze
    # the adapters inside the frozen layers. Keras collects trainable weights by
    # each weight's own flag once the outer layer is trainable.
    block = _Block()
    model = lamina.Sequential([lamina.Input((3,)), block])
    block.trainable = False
    block.b.trainable = True
    assert model.trainable_weights == [block.b.kernel, block.b.bias]
    assert block.trainable_weights == []
    assert len(model.non_trainable_weights) == 2
    before = model.get_weights()
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    after = model.get_weights()
    assert np.array_equal(before[0], after[0])  # a stays frozen
    assert not np.array_equal(before[2], after[2])  # b trained


def test_weights_of_a_layer_frozen_before_build_stay_frozen():
    class Net(lamina.Model):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(3)
            self.frozen = layers.Dense(3, trainable=False)

        def call(self, x):
            return self.frozen(self.a(x))

    model = Net()
    model(np.ones((1, 3), "float32"))
    assert model.non_trainable_weights == [model.frozen.kernel, model.frozen.bias]
    assert model.trainable_weights == [model.a.kernel, model.a.bias]
    model.frozen.trainable = True
    assert len(model.trainable_weights) == 4


class _Inner(lamina.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.c = layers.Dense(2, name="c")
        self.d = layers.Dense(2, name="d")

    def call(self, x):
        return self.d(self.c(x))


class _Outer(lamina.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.a = layers.Dense(2, name="a")
        self.b = layers.Dense(2, name="b")
        self.inner = _Inner(name="inner")

    def call(self, x):
        return self.inner(self.b(self.a(x)))


def test_flatten_layers_walks_in_keras_order():
    # Keras 3.15.1's output for this model: below the first level, each
    # layer's sub-layers come last-tracked first (KerasHub numbers LoRA
    # layers in this order in its .lora.h5 files).
    model = lamina.Sequential(
        [lamina.Input((3,)), _Outer(name="blk"), layers.Dense(1, name="head")]
    )
    names = [layer.name for layer in model._flatten_layers(include_self=False)]
    assert names == ["blk", "inner", "d", "c", "b", "a", "head"]
    top = [layer.name for layer in model._flatten_layers(recursive=False)]
    assert top == [model.name, "blk", "head"]
    outer = model.layers[0]
    assert [layer.name for layer in outer._flatten_layers()] == [
        "blk",
        "a",
        "b",
        "inner",
        "d",
        "c",
    ]


def test_a_layer_with_compute_output_shape_builds_its_sub_layers_symbolically():
    # KerasHub's RelativeEmbedding: own weight, a sub-layer, no build(), and a
    # compute_output_shape. Keras runs call once to build the sub-layer.
    class Rel(lamina.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.w = self.add_weight(shape=(3,), name="w")
            self.ln = layers.LayerNormalization(name="ln")

        def call(self, x):
            return self.ln(x) * self.w

        def compute_output_shape(self, shape):
            return shape

    x = lamina.Input((3,))
    model = lamina.Model(x, Rel(name="rel")(x))
    assert [w.path for w in model.weights] == ["rel/w", "rel/ln/gamma", "rel/ln/beta"]


def test_layers_in_a_dict_with_other_keys_are_tracked():
    model = _Base()
    model.heads = {2: layers.Dense(3, name="h2"), 1: layers.Dense(3, name="h1")}
    model.mixed = {"1": layers.Dense(3, name="s1"), 1: layers.Dense(3, name="i1")}
    assert _names(model) == ["h2", "h1", "s1", "i1"]
    x = np.ones((1, 3), "float32")
    for layer in model.layers:
        layer(x)
    assert len(list(model.parameters())) == 8


def test_small_keras_api_edges_seen_in_kerashub():
    import pytest

    # Task.get_config serializes `preprocessor=None`.
    assert lamina.layers.serialize(None) is None
    assert lamina.layers.serialize("relu") == "relu"
    # Keras: ValueError("Invalid dtype: object"); lamina's is also a TypeError.
    ragged = np.array([np.zeros(2), np.zeros(3)], dtype=object)
    with pytest.raises(ValueError, match="Invalid dtype: object"):
        lamina.ops.convert_to_tensor(ragged)
    with pytest.raises(TypeError):
        lamina.ops.convert_to_tensor(ragged)
