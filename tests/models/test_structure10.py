"""Functional structure as Keras 3 keeps it: inputs and outputs given as a
list (or tuple) of one stay one, a functional model's default `input_spec`,
layers a Functional subclass sets as attributes, and Sequential's check of
its layers' call signatures."""

import json
import os
import warnings

import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _keras():
    return pytest.importorskip("keras")


def _graph(lib, wrap_in, wrap_out):
    x = lib.Input((3,), name="x")
    y = lib.layers.Dense(2, name="d")(x)
    return lib.Model(wrap_in(x), wrap_out(y))


_STRUCTURES = {
    "plain": lambda t: t,
    "list": lambda t: [t],
    "tuple": lambda t: (t,),
    "nested": lambda t: [[t]],
}


# --- 1. a list or tuple of one stays one ---------------------------------------


def _predict_type(model, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return type(model.predict(data, verbose=0)).__name__


@pytest.mark.parametrize("wrap_in", ["plain", "list", "tuple", "nested"])
@pytest.mark.parametrize("wrap_out", ["plain", "list", "tuple", "nested"])
def test_one_item_structures_match_keras(wrap_in, wrap_out):
    keras = _keras()
    data = np.ones((2, 3), "float32")
    built = {}
    for name, lib in (("ours", lamina), ("theirs", keras)):
        model = _graph(lib, _STRUCTURES[wrap_in], _STRUCTURES[wrap_out])
        config = json.loads(model.to_json())["config"]
        with warnings.catch_warnings():
            # Keras warns that an array is not the `[x]` it expects
            warnings.simplefilter("ignore")
            eager = model(data)
            symbolic = model(lib.Input((3,)))
        built[name] = (
            type(model.input).__name__,
            type(model.output).__name__,
            config["input_layers"],
            config["output_layers"],
            # a call on data unwraps one level of a one-item output ...
            type(eager).__name__ in ("Tensor", "ndarray"),
            _predict_type(model, data),
            # ... a call on KerasTensors keeps the structure
            type(symbolic).__name__,
            model.input_shape,
            model.output_shape,
        )
    assert built["ours"] == built["theirs"]


def test_list_of_one_input_round_trips_and_takes_the_tensor():
    x = lamina.Input((3,), name="x")
    model = lamina.Model([x], layers.Dense(2)(x))
    assert isinstance(model.input, list) and model.input[0] is x
    assert model.inputs == [x] or model.inputs[0] is x
    restored = lamina.Model.from_config(model.get_config())
    assert isinstance(restored.input, list) and len(restored.input) == 1
    data = np.ones((2, 3), "float32")
    restored.set_weights(model.get_weights())
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(restored(data)),
        lamina.ops.convert_to_numpy(model([data])),
        rtol=1e-6,
    )


def test_one_item_list_configs_load_across_libraries():
    keras = _keras()
    data = np.ones((2, 3), "float32")
    ours = _graph(lamina, _STRUCTURES["list"], _STRUCTURES["list"])
    theirs = keras.models.model_from_json(ours.to_json())
    assert isinstance(theirs.input, list) and isinstance(theirs.output, list)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(ours(data)),
        keras.ops.convert_to_numpy(theirs([data])),
        rtol=1e-6,
    )
    back = lamina.models.model_from_json(theirs.to_json())
    assert isinstance(back.input, list) and isinstance(back.output, list)
    assert json.loads(back.to_json())["config"]["input_layers"] == [["x", 0, 0]]


# --- 2. default input_spec ------------------------------------------------------


def _spec_view(spec):
    return (
        tuple(spec.shape),
        spec.ndim,
        spec.name,
        spec.allow_last_axis_squeeze,
        spec.optional,
    )


@pytest.mark.parametrize("kind", ["single", "list", "dict"])
def test_default_input_spec_matches_keras(kind):
    keras = _keras()
    views = {}
    for name, lib in (("ours", lamina), ("theirs", keras)):
        b = lib.Input((4, 5), name="b", batch_size=7)
        a = lib.Input((3,), name="a", optional=kind == "list")
        flat = lib.layers.Flatten()(b)
        out = lib.layers.Concatenate()([flat, flat])
        if kind == "single":
            model = lib.Model(b, out)
        elif kind == "list":
            model = lib.Model([b, a], out)
        else:  # keys not sorted: specs come in sorted key order
            model = lib.Model({"b": b, "a": a}, out)
        views[name] = [_spec_view(s) for s in model.input_spec]
    assert views["ours"] == views["theirs"]
    assert views["ours"][0][0][0] is None  # batch axis left unknown


def test_input_spec_nested_dict_is_none_and_set_value_wins():
    a, b = lamina.Input((2,), name="a"), lamina.Input((2,), name="b")
    nested = lamina.Model({"outer": {"a": a, "b": b}}, layers.Add()([a, b]))
    assert nested.input_spec is None
    model = lamina.Model(a, layers.Dense(1)(a))
    spec = lamina.layers.InputSpec(shape=(None, 2))
    model.input_spec = spec
    assert model.input_spec is spec
    model.input_spec = None  # as in Keras: a set None stays None
    assert model.input_spec is None


def test_default_input_spec_keeps_the_call_leeway():
    x = lamina.Input((3, 1))
    model = lamina.Model(x, layers.Flatten()(x))
    assert model.input_spec[0].allow_last_axis_squeeze
    for shape in [(2, 3), (2, 3, 1), (2, 3, 1, 1)]:
        assert tuple(model(np.ones(shape, "float32")).shape) == (2, 3)
    with pytest.raises(ValueError, match="incompatible shape"):
        model(np.ones((2, 3, 2, 2), "float32"))
    # a model with two inputs is used inside another graph without its
    # specs (one per input) getting in the way
    a, b = lamina.Input((3,)), lamina.Input((3,))
    inner = lamina.Model([a, b], layers.Add()([a, b]))
    c, d = lamina.Input((3,)), lamina.Input((3,))
    outer = lamina.Model([c, d], inner([c, d]))
    assert tuple(outer([np.ones((2, 3)), np.ones((2, 3))]).shape) == (2, 3)


# --- 3. layers a Functional subclass sets as attributes -------------------------


def _attribute_model_class(lib):
    class WithHead(lib.Model):
        def __init__(self, **kwargs):
            x = lib.Input((3,), name="x")
            super().__init__(x, lib.layers.Dense(2, name="d1")(x), **kwargs)
            self.head = lib.layers.Dense(5, name="head")
            self.head.build((None, 2))

    return WithHead


def test_functional_subclass_attribute_layers_are_tracked_as_in_keras():
    keras = _keras()
    seen = {}
    for name, lib in (("ours", lamina), ("theirs", keras)):
        model = _attribute_model_class(lib)()
        seen[name] = (
            [layer.name for layer in model.layers],
            [layer.name for layer in model._flatten_layers()][1:],
            [w.path for w in model.weights],
            len(model.trainable_weights),
            len(model.get_weights()),
        )
    assert seen["ours"] == seen["theirs"]
    assert seen["ours"][1] == ["x", "d1", "head"]


@pytest.mark.parametrize("writer", ["ours", "theirs"])
def test_functional_subclass_attribute_layer_files_cross_load(tmp_path, writer):
    keras = _keras()
    libs = {"ours": lamina, "theirs": keras}
    reader = "theirs" if writer == "ours" else "ours"
    classes = {name: _attribute_model_class(lib) for name, lib in libs.items()}
    source = classes[writer]()
    path = str(tmp_path / "with_head.keras")
    source.save(path)
    target = libs[reader].models.load_model(
        path, custom_objects={"WithHead": classes[reader]}
    )
    assert [w.path for w in target.weights][-2:] == ["head/kernel", "head/bias"]
    for got, want in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


# --- 4. Sequential refuses layers needing more than the input -------------------


def test_sequential_refuses_a_layer_with_two_required_call_arguments():
    class NeedsTraining(layers.Layer):
        def call(self, inputs, training):
            return inputs

    model = lamina.Sequential(name="seq")
    model.add(NeedsTraining())
    with pytest.raises(ValueError, match="can only have a single required posit"):
        model.build((None, 2))
    with pytest.raises(ValueError, match="'training'"):
        lamina.Sequential([lamina.Input((2,)), NeedsTraining()])

    class Fine(layers.Layer):
        def call(self, inputs, training=None):
            return inputs

    model = lamina.Sequential([lamina.Input((2,)), Fine(), layers.Dense(1)])
    assert model.output_shape == (None, 1)


def test_reserved_layers_attribute_message_names_model_layers():
    x = lamina.Input((2,))
    model = lamina.Model(x, layers.Dense(1)(x))
    with pytest.raises(AttributeError, match="`Model.layers` attribute is reserved"):
        model.layers = []


def test_sequential_build_without_shape_uses_its_input():
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(2)])
    model.build()  # Keras: a no-op, the Input gives the shape
    assert model.built and model.output_shape == (None, 2)
    model = lamina.Sequential([lamina.Input((3,))])
    model.add(layers.Dense(4), rebuild=False)
    model.build()
    assert [tuple(w.shape) for w in model.weights] == [(3, 4), (4,)]


def test_disconnected_output_is_named_by_its_path():
    i1, i2 = lamina.Input((2,), name="input1"), lamina.Input((2,), name="input2")
    with pytest.raises(ValueError, match="Output with path `output2` is not conn"):
        lamina.Model(i1, {"output1": i1 * 2, "output2": i2 * 3})
    with pytest.raises(ValueError, match="Graph disconnected"):
        lamina.Model(i1, i2 * 3)


def test_set_input_spec_mismatch_uses_keras_words():
    x = lamina.Input((None, 3))
    model = lamina.Model(x, layers.Dense(2)(x))
    model.input_spec = lamina.layers.InputSpec(shape=(None, 4, 3))
    with pytest.raises(
        ValueError, match=r"expected shape=\(None, 4, 3\), found shape=\(2, 3, 3\)"
    ):
        model(np.zeros((2, 3, 3), "float32"))
    assert tuple(model(np.zeros((2, 4, 3), "float32")).shape) == (2, 4, 2)


def test_float32_head_of_a_mixed_model_computes_in_float32():
    lamina.config.set_dtype_policy("mixed_float16")
    try:
        inputs = lamina.Input((4,))
        hidden = layers.Dense(8)(inputs)
        functional = lamina.Model(inputs, layers.Dense(3, dtype="float32")(hidden))
        all_mixed = lamina.Model(inputs, layers.Dense(3)(hidden))
        sequential = lamina.Sequential(
            [lamina.Input((4,)), layers.Dense(8), layers.Dense(3, dtype="float32")]
        )
    finally:
        lamina.config.set_dtype_policy("float32")
    x = np.ones((2, 4), "float32")
    assert str(functional(x).dtype) == "torch.float32"
    assert str(sequential(x).dtype) == "torch.float32"
    assert functional.predict(x, verbose=0).dtype == np.float32
    assert str(all_mixed(x).dtype) == "torch.float16"
