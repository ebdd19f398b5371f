"""Model behaviours that Keras 3.15's own unit tests showed lamina doing
differently (session 8, part A)."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _functional():
    inputs = lamina.Input((3,), name="x")
    return lamina.Model(inputs, layers.Dense(2)(inputs))


def test_layers_attribute_is_reserved():
    sequential = lamina.Sequential([lamina.Input((3,)), layers.Dense(2)])
    with pytest.raises(AttributeError, match=r"Use `add\(\)` and `pop\(\)`"):
        sequential.layers = [layers.Dense(4)]
    assert len(sequential.layers) == 1  # unchanged
    with pytest.raises(AttributeError, match="`Model.layers` attribute is reserved"):
        _functional().layers = []

    class Sub(lamina.Model):
        def __init__(self):
            super().__init__()
            self.layers = [layers.Dense(2)]

    with pytest.raises(AttributeError, match="reserved"):
        Sub()


def test_non_tensor_inputs_or_outputs_raise_value_error():
    a = lamina.Input((3,), name="a")
    b = lamina.Input((3,), name="b")
    out = layers.Dense(2)(a + b)
    with pytest.raises(ValueError, match="All `inputs` values must be KerasTensors"):
        lamina.Model({"a": "a", "b": b}, out)
    with pytest.raises(ValueError, match="All `outputs` values must be KerasTensors"):
        lamina.Model({"a": a, "b": b}, "out")


def test_none_for_a_required_input_raises():
    class Optional(layers.Layer):
        def call(self, x, y=None):
            return x if y is None else x + y

        def compute_output_shape(self, x_shape):
            return x_shape

    a = lamina.Input((2,), name="a")
    b = lamina.Input((2,), name="b")
    model = lamina.Model({"a": a, "b": b}, Optional()(a, b))
    with pytest.raises(ValueError, match="'b' is not optional"):
        model({"a": np.ones((2, 2)), "b": None})

    c = lamina.Input((2,), name="c", optional=True)
    model = lamina.Model({"a": a, "c": c}, Optional()(a, c))
    out = model({"a": np.ones((2, 2)), "c": None})
    np.testing.assert_allclose(out.detach().cpu().numpy(), np.ones((2, 2)))


def test_tuple_outputs_survive_get_config():
    inputs = lamina.Input((3,))
    x = layers.Dense(5)(inputs)
    model = lamina.Model(inputs, (layers.Dense(4)(x), layers.Dense(5)(x)))
    restored = lamina.Model.from_config(model.get_config())
    assert isinstance(restored(np.ones((2, 3), "float32")), tuple)
    assert isinstance(restored(lamina.Input((3,))), tuple)


@pytest.mark.parametrize("kind", [dict, list])
def test_sequential_passes_structures_through_its_layers(kind):
    class Passthrough(layers.Layer):
        def call(self, inputs):
            assert isinstance(inputs, kind)
            return inputs

    model = lamina.Sequential([Passthrough()])
    arrays = [np.ones((3, 2), "float32"), np.zeros((3, 2), "float32")]
    x = {"a": arrays[0], "b": arrays[1]} if kind is dict else arrays
    out = model(x)
    assert type(out) is kind and len(out) == 2
    assert model(x) is not None  # a second call runs the same way


def test_functional_model_pickles():
    import pickle

    inputs = lamina.Input((3,))
    x = layers.Dense(4)(inputs)
    model = lamina.Model(inputs, [layers.Dense(2)(x), layers.Dense(1)(x)])
    model.compile("sgd", "mse")
    data = np.random.RandomState(0).rand(8, 3).astype("float32")
    restored = pickle.loads(pickle.dumps(model))
    for ours, theirs in zip(
        restored.predict(data, verbose=0), model.predict(data, verbose=0)
    ):
        np.testing.assert_allclose(ours, theirs)
    restored.fit(data, [np.ones((8, 2)), np.ones((8, 1))], verbose=0)


def test_sequential_starting_with_a_built_model_is_built_as_in_keras():
    keras = pytest.importorskip("keras")

    def make(lib):
        inputs = lib.Input((8, 8, 3))
        base = lib.Model(inputs, lib.layers.Conv2D(4, 3, padding="same")(inputs))
        return lib.Sequential(
            [base, lib.layers.GlobalAveragePooling2D(), lib.layers.Dense(1)]
        )

    ours, theirs = make(lamina), make(keras)
    assert ours.built and theirs.built
    assert ours.output_shape == theirs.output_shape == (None, 1)
    assert [c["class_name"] for c in ours.get_config()["layers"]] == [
        c["class_name"] for c in theirs.get_config()["layers"]
    ]


def test_sequential_build_with_a_conflicting_shape_raises():
    model = lamina.Sequential([lamina.Input((2,), batch_size=3), layers.Dense(2)])
    with pytest.raises(ValueError, match="already been configured"):
        model.build((3, 4))
    model.build((3, 2))
    model.build((None, 2))  # a free batch axis is compatible
    with pytest.raises(ValueError, match="already been configured"):
        model.add(lamina.Input((2,)))


def test_sequential_runs_eagerly_when_a_layer_cannot_infer_shapes():
    class Dynamic(layers.Layer):
        def call(self, inputs):
            return inputs + 1.0

        def compute_output_spec(self, *args, **kwargs):
            raise NotImplementedError

    model = lamina.Sequential([Dynamic()])
    x = np.random.RandomState(0).rand(3, 2).astype("float32")
    np.testing.assert_allclose(model(x).detach().cpu().numpy(), x + 1, rtol=1e-6)
    np.testing.assert_allclose(model(x).detach().cpu().numpy(), x + 1, rtol=1e-6)


def test_functional_subclass_gets_its_own_config_entries_back():
    class CustomModel(lamina.Model):
        def __init__(self, *args, param=1, **kwargs):
            super().__init__(*args, **kwargs)
            self.param = param

        def get_config(self):
            return {**super().get_config(), "param": self.param}

    inputs = lamina.Input((3,))
    model = CustomModel(inputs=inputs, outputs=layers.Dense(5)(inputs), param=3)
    restored = CustomModel.from_config(model.get_config())
    assert isinstance(restored, CustomModel) and restored.param == 3
    assert restored.output_shape == (None, 5)
