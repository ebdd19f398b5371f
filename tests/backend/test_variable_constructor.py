"""`lamina.Variable` built the Keras 3 way, `Variable(initializer, shape, dtype,
trainable, ...)`, compared with Keras; torch's `Variable(data, requires_grad)`
form; and variables assigned to layer attributes being tracked as weights."""

import copy
import os
import re

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")

AUTO_NAME = re.compile(r"variable(_\d+)?$")


@pytest.fixture(autouse=True)
def _fresh_names():
    lamina.utils.clear_session()
    yield
    lamina.utils.clear_session()


def _keras():
    keras = pytest.importorskip("keras")
    keras.utils.clear_session()
    return keras


def _same_as_keras(ours, theirs):
    assert lamina.backend.standardize_dtype(ours.dtype) == theirs.dtype
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.trainable == theirs.trainable
    np.testing.assert_array_equal(ours.numpy(), np.asarray(theirs.numpy()))


# --- values and initializers ---------------------------------------------------

VALUE_CASES = [
    (np.ones((2, 3)), {}),  # float64 arrays stay float64
    (np.arange(4, dtype="int64"), {"trainable": False}),
    (3, {"trainable": False}),  # Python int -> int32
    (2.5, {}),  # Python float -> floatx
    ([1.0, 2.0], {}),
    ([1, 2], {"trainable": False}),
    (True, {"trainable": False}),
    (np.ones(2), {"dtype": "float16"}),
    (np.ones(2), {"dtype": "int32", "trainable": False}),
]


@pytest.mark.parametrize("value, kwargs", VALUE_CASES)
def test_value_initializers_match_keras(value, kwargs):
    keras = _keras()
    _same_as_keras(lamina.Variable(value, **kwargs), keras.Variable(value, **kwargs))


def test_torch_tensor_keeps_its_dtype():
    keras = _keras()
    value = torch.arange(3, dtype=torch.float16)
    ours, theirs = lamina.Variable(value), keras.Variable(value)
    _same_as_keras(ours, theirs)


@pytest.mark.parametrize(
    "initializer, kwargs",
    [
        ("ones", {"shape": (2, 3)}),
        ("zeros", {"shape": [4], "trainable": False}),
        ("ones", {"shape": ()}),
        ("ones", {"shape": (2,), "dtype": "float16"}),
    ],
)
def test_initializer_names_match_keras(initializer, kwargs):
    keras = _keras()
    _same_as_keras(
        lamina.Variable(initializer, **kwargs), keras.Variable(initializer, **kwargs)
    )


def test_initializer_objects_and_callables():
    v = lamina.Variable(lamina.initializers.Constant(2.0), shape=(2,), dtype="float16")
    assert v.dtype == torch.float16 and v.tolist() == [2.0, 2.0]
    w = lamina.Variable(
        lambda shape, dtype: np.full(shape, 5.0), shape=(2, 1), dtype="int32"
    )
    assert w.dtype == torch.int32 and w.tolist() == [[5], [5]]
    assert not w.trainable  # integer variables cannot require gradients


def test_keras_attributes_and_names():
    v = lamina.Variable(
        np.ones(2),
        name="scale",
        autocast=False,
        aggregation="sum",
        synchronization="on_read",
    )
    assert (v.name, v.path) == ("scale", "scale")
    assert (v.autocast, v.aggregation, v.synchronization) == (False, "sum", "on_read")
    w = lamina.Variable(1.0, aggregation=None, synchronization=None)
    assert (w.aggregation, w.synchronization, w.autocast) == ("none", "none", True)
    assert AUTO_NAME.match(w.name) and w.path == w.name
    assert lamina.Variable(1.0).name != w.name  # unique default names
    with lamina.name_scope("block"):
        scoped = lamina.Variable(1.0, name="q")
    assert scoped.path == "block/q"


def test_value_is_copied_not_shared():
    source = np.zeros(2, "float32")
    v = lamina.Variable(source)
    v.assign([5.0, 5.0])
    assert source.tolist() == [0.0, 0.0] and v.tolist() == [5.0, 5.0]


def test_a_variable_made_in_inference_mode_can_train():
    with torch.inference_mode():
        v = lamina.Variable("ones", shape=(2,))
    assert not v.is_inference() and v.requires_grad


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((1.0,), {"name": "a/b"}, "string without '/'.*name='a/b'"),
        ((1.0,), {"name": 3}, "string without '/'.*name=3"),
        ((1.0,), {"aggregation": "max"}, "aggregation.*got aggregation='max'"),
        ((1.0,), {"synchronization": "x"}, "synchronization.*got synchronization"),
        (("ones",), {}, "needs `shape`; got shape=None"),
        (("ones",), {"shape": (None, 2)}, "fully defined shape.*\\(None, 2\\)"),
        (("ones",), {"shape": 2}, "tuple of ints; got shape=2"),
        (("ones",), {"shape": (-1,)}, "non-negative"),
    ],
)
def test_bad_arguments_raise_value_error(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lamina.Variable(*args, **kwargs)


def test_bad_arguments_keras_raises_too():
    keras = _keras()
    for kwargs in ({"name": "a/b"}, {"aggregation": "max"}, {"synchronization": "x"}):
        with pytest.raises(ValueError):
            keras.Variable(1.0, **kwargs)
    with pytest.raises(ValueError):
        keras.Variable("ones")


def test_missing_initializer_is_a_type_error():
    with pytest.raises(TypeError, match="expects an `initializer`"):
        lamina.Variable()


# --- torch's form ---------------------------------------------------------------


def test_torch_form_keeps_working():
    data = torch.ones(2)
    v = lamina.Variable(data, False)
    assert not v.requires_grad and "path" not in v.__dict__
    w = lamina.Variable(data, requires_grad=True, name="k")
    assert w.requires_grad and (w.name, w.path) == ("k", "k")
    assert lamina.Variable(torch.ones(1), requires_grad=False).name == "variable"
    # torch copies parameters with type(p)(data, requires_grad)
    clone = copy.deepcopy(lamina.Variable(np.ones(2, "float32"), name="c"))
    assert type(clone) is lamina.Variable and clone.path == "c"
    module = torch.nn.Module()
    module.w = lamina.Variable(np.ones(2, "float32"))
    module.to(torch.float64)
    assert type(module.w) is lamina.Variable and module.w.dtype == torch.float64


def test_torch_form_uses_no_default_name():
    lamina.Variable(torch.ones(1), False)
    assert lamina.Variable(1.0).name == "variable"


# --- variables assigned to layers -----------------------------------------------


def _holder_class(lib):
    class Holder(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a = lib.Variable(np.full((3,), 0.5, "float32"), name="a")
            self.c = lib.Variable(np.zeros((3,), "float32"), trainable=False, name="c")

        def build(self, input_shape):
            self.w = lib.Variable("ones", shape=(input_shape[-1], 2), name="w")
            self.k = self.add_weight(shape=(2,), initializer="zeros", name="k")
            self.b = lib.Variable("zeros", shape=(2,), trainable=False, name="b")

        def call(self, x):
            y = lib.ops.matmul(x * self.a, self.w) + self.k + self.b
            return y + lib.ops.sum(self.c)

    return Holder


def _holder_model(lib):
    inputs = lib.Input((3,))
    outputs = _holder_class(lib)(name="holder")(inputs)
    return lib.Model(inputs, outputs)


def test_assigned_variables_are_tracked_like_keras():
    keras = _keras()
    ours, theirs = _holder_model(lamina), _holder_model(keras)
    for attr in ("weights", "trainable_weights", "non_trainable_weights"):
        assert [v.path for v in getattr(ours, attr)] == [
            v.path for v in getattr(theirs, attr)
        ]
    assert [v.path for v in ours.weights] == [
        "a",
        "holder/w",
        "holder/k",
        "c",
        "holder/b",
    ]
    layer = ours.get_layer("holder")
    assert set(dict(layer.named_parameters())) == {"a", "c", "w", "k", "b"}


def test_tied_variable_is_listed_by_both_layers_and_kept_by_its_owner():
    dense = layers.Dense(2)
    dense.build((None, 3))

    class Tied(layers.Layer):
        def __init__(self):
            super().__init__()
            self.kernel = dense.kernel

    tied = Tied()
    assert tied.weights == [dense.kernel]  # as Keras lists it
    assert dense.weights[0] is dense.kernel
    del tied.kernel
    assert tied.weights == [] and dense.kernel._tracked


def test_layer_holding_variables_trains_like_keras():
    keras = _keras()
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.ones((8, 2), "float32")
    histories = []
    for lib in (lamina, keras):
        model = _holder_model(lib)
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse")
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        histories.append([np.asarray(w) for w in model.get_weights()])
    for ours, theirs in zip(*histories):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert histories[0][3].tolist() == [0.0, 0.0, 0.0]  # non-trainable unchanged


@pytest.mark.parametrize("writer", ["lamina", "keras"])
def test_weights_files_load_both_ways(tmp_path, writer):
    keras = _keras()
    libs = {"lamina": lamina, "keras": keras}
    source = _holder_model(libs[writer])
    values = [
        np.full(w.shape, i + 1.0, "float32") for i, w in enumerate(source.weights)
    ]
    source.set_weights(values)
    path = str(tmp_path / "holder.weights.h5")
    source.save_weights(path)
    target = _holder_model(libs["keras" if writer == "lamina" else "lamina"])
    target.load_weights(path)
    for got, want in zip(target.get_weights(), values):
        np.testing.assert_array_equal(np.asarray(got), want)
