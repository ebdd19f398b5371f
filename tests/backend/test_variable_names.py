"""Variable names and paths, layer paths, `name_scope` and per-layer policy maps,
as Keras 3 gives them (the expected strings were read off Keras 3.15.1)."""

import copy
import os

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

X = np.ones((1, 3), "float32")


@pytest.fixture(autouse=True)
def _fresh_names():
    lamina.utils.clear_session()
    yield
    lamina.utils.clear_session()


class Block(layers.Layer):
    """Two unnamed weights, one Dense made in __init__ and one in build."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d = layers.Dense(3)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(1,))
        self.w2 = self.add_weight(shape=(1,))
        self.d2 = layers.Dense(2)

    def call(self, x):
        return self.d2(self.d(x)) * self.w


def _names(model):
    return [(w.name, w.path) for w in model.weights]


def test_dense_weights_have_keras_names_and_paths():
    dense = layers.Dense(2)
    dense(X)
    assert _names(dense) == [("kernel", "dense/kernel"), ("bias", "dense/bias")]
    assert dense.path == "dense"
    assert layers.Dense(2).path is None  # not built yet


def test_sequential_in_sequential_paths_carry_outer_names():
    model = lamina.Sequential(
        [
            lamina.Input((3,)),
            layers.Dense(2),
            lamina.Sequential([layers.Dense(4)], name="inner"),
        ]
    )
    assert [w.path for w in model.weights] == [
        "sequential/dense/kernel",
        "sequential/dense/bias",
        "sequential/inner/dense_1/kernel",
        "sequential/inner/dense_1/bias",
    ]
    assert model.layers[1].path == "sequential/inner"
    assert model.layers[1].layers[0].path == "sequential/inner/dense_1"


def test_deferred_sequential_in_sequential_gets_the_same_paths():
    model = lamina.Sequential(
        [layers.Dense(2), lamina.Sequential([layers.Dense(4)], name="inner")]
    )
    model(X)
    assert [w.path for w in model.weights][::2] == [
        "sequential/dense/kernel",
        "sequential/inner/dense_1/kernel",
    ]


def test_functional_in_functional_keeps_paths_of_construction():
    i = lamina.Input((3,))
    inner = lamina.Model(i, layers.Dense(4)(i), name="inner_f")
    i2 = lamina.Input((3,))
    outer = lamina.Model(i2, layers.Dense(2)(inner(i2)), name="outer_f")
    assert [w.path for w in outer.weights] == [
        "dense/kernel",
        "dense/bias",
        "dense_1/kernel",
        "dense_1/bias",
    ]


def test_sequential_called_in_functional_prefixes_its_layers():
    i = lamina.Input((3,))
    inner = lamina.Sequential([layers.Dense(4)], name="inner")
    model = lamina.Model(i, layers.Dense(2)(inner(i)))
    assert [w.path for w in model.weights][::2] == [
        "inner/dense/kernel",
        "dense_1/kernel",
    ]


def test_layers_built_in_a_custom_layer_get_its_scope_and_unnamed_are_numbered():
    block = Block()
    block(X)
    assert _names(block) == [
        ("variable", "block/variable"),
        ("variable_1", "block/variable_1"),
        ("kernel", "block/dense/kernel"),
        ("bias", "block/dense/bias"),
        ("kernel", "block/dense_1/kernel"),
        ("bias", "block/dense_1/bias"),
    ]
    assert (block.path, block.d.path, block.d2.path) == (
        "block",
        "block/dense",
        "block/dense_1",
    )
    # torch keys stay local and stable: state_dict does not depend on counters.
    assert list(block.state_dict())[:2] == ["w", "w2"]


def test_custom_layers_in_sequential_match_keras():
    model = lamina.Sequential([lamina.Input((3,)), Block(), Block()])
    assert _names(model) == [
        ("variable", "sequential/block/variable"),
        ("variable_1", "sequential/block/variable_1"),
        ("kernel", "sequential/block/dense/kernel"),
        ("bias", "sequential/block/dense/bias"),
        ("kernel", "sequential/block/dense_2/kernel"),
        ("bias", "sequential/block/dense_2/bias"),
        ("variable_2", "sequential/block_1/variable_2"),
        ("variable_3", "sequential/block_1/variable_3"),
        ("kernel", "sequential/block_1/dense_1/kernel"),
        ("bias", "sequential/block_1/dense_1/bias"),
        ("kernel", "sequential/block_1/dense_3/kernel"),
        ("bias", "sequential/block_1/dense_3/bias"),
    ]


def test_subclassed_model_prefixes_layers_first_called_in_its_call():
    class M(lamina.Model):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(3)
            self.b = Block()

        def call(self, x):
            return self.b(self.a(x))

    model = M()
    model(X)
    assert [w.path for w in model.weights] == [
        "m/dense/kernel",
        "m/dense/bias",
        "m/block/variable",
        "m/block/variable_1",
        "m/block/dense_1/kernel",
        "m/block/dense_1/bias",
        "m/block/dense_2/kernel",
        "m/block/dense_2/bias",
    ]


def test_layer_without_build_still_scopes_the_layers_it_calls():
    class NoBuild(layers.Layer):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(2)

        def call(self, x):
            return self.d(x)

    layer = NoBuild()
    layer(X)
    assert (layer.path, layer.d.path) == ("no_build", "no_build/dense")
    assert layers.ReLU().path is None


def test_a_layer_built_before_joining_a_model_keeps_its_path():
    dense = layers.Dense(3)
    dense.build((None, 3))
    model = lamina.Sequential([lamina.Input((3,)), dense, layers.Dense(2)])
    assert [w.path for w in model.weights][::2] == [
        "dense/kernel",
        "sequential/dense_1/kernel",
    ]


def test_weights_made_in_init_use_the_scope_open_then():
    class W(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.v = self.add_weight(shape=(2,), name="inited")

        def call(self, x):
            return x

    assert W().v.path == "w/inited"
    with lamina.name_scope("outer"):
        layer = W()
    assert (layer.v.name, layer.v.path) == ("inited", "outer/w_1/inited")


def test_name_scope_nests_and_prefixes_layers_and_variables():
    with lamina.name_scope("a"):
        with lamina.name_scope("b"):
            dense = layers.Dense(2)
            dense(X)
            variable = lamina.Variable(torch.ones(2), name="v")
    assert dense.kernel.path == "a/b/dense/kernel"
    assert (variable.name, variable.path) == ("v", "a/b/v")
    later = layers.Dense(2)
    later(X)
    assert later.kernel.path == "dense_1/kernel"  # the scopes are closed


def test_name_scope_inside_a_layer_call_sits_below_the_layer():
    class Scoped(layers.Layer):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(2)

        def call(self, x):
            with lamina.name_scope("head"):
                return self.d(x)

    layer = Scoped()
    layer(X)
    assert layer.d.kernel.path == "scoped/head/dense/kernel"


@pytest.mark.parametrize("name", ["a/b", 3, None])
def test_name_scope_rejects_names_that_are_not_plain_strings(name):
    with pytest.raises(ValueError, match="string without '/'.*got name="):
        lamina.name_scope(name)


def test_variable_name_survives_deepcopy_and_is_not_torchs_label():
    dense = layers.Dense(2)
    dense(X)
    clone = copy.deepcopy(dense.kernel)
    assert (clone.name, clone.path) == ("kernel", "dense/kernel")
    assert isinstance(clone, torch.nn.Parameter)
    assert "path=dense/kernel" in repr(dense.kernel)


def test_metric_variables_have_keras_paths():
    assert [v.path for v in lamina.metrics.Mean().variables] == [
        "mean/total",
        "mean/count",
    ]
    auc = lamina.metrics.AUC(num_thresholds=3)
    assert [v.path for v in auc.variables] == [
        "auc/true_positives",
        "auc/false_positives",
        "auc/true_negatives",
        "auc/false_negatives",
    ]


def test_optimizer_slot_paths_follow_the_model_paths():
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(1)])
    optimizer = lamina.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    assert [v.path for v in optimizer.variables] == [
        "adam/iteration",
        "adam/learning_rate",
        "adam/sequential_dense_kernel_momentum",
        "adam/sequential_dense_kernel_velocity",
        "adam/sequential_dense_bias_momentum",
        "adam/sequential_dense_bias_velocity",
    ]


def test_dtype_policy_map_is_looked_up_at_the_layer_path():
    policies = lamina.dtype_policies.DTypePolicyMap("float32")
    policies["sequential/dense"] = "bfloat16"
    policies["sequential/dense_1"] = "mixed_bfloat16"
    model = lamina.Sequential(
        [lamina.Input((3,))] + [layers.Dense(2, dtype=policies) for _ in range(3)]
    )
    got = [
        (layer.path, layer.compute_dtype, layer.variable_dtype, layer.kernel.dtype)
        for layer in model.layers
    ]
    assert got == [
        ("sequential/dense", "bfloat16", "bfloat16", torch.bfloat16),
        ("sequential/dense_1", "bfloat16", "float32", torch.float32),
        ("sequential/dense_2", "float32", "float32", torch.float32),
    ]
    assert model(X).dtype == torch.float32
    assert isinstance(
        model.layers[0].dtype_policy, lamina.dtype_policies.DTypePolicyMap
    )
    assert policies.compute_dtype == "float32"  # the map itself is unchanged


def test_paths_match_keras_for_nested_models():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")

    def build(lib):
        lib.utils.clear_session()
        return lib.Sequential(
            [
                lib.Input((3,)),
                lib.layers.Dense(2),
                lib.Sequential([lib.layers.Dense(4)], name="inner"),
            ]
        )

    expected = [(w.name, w.path) for w in build(keras).weights]
    assert _names(build(lamina)) == expected
