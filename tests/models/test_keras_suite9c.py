"""Session 9 (helper-100): functional-model differences found by Keras's own
model tests, fixed in lamina."""

import json
import os
import warnings

import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")

_KEY_PHRASE = "The structure of `inputs` doesn't match the expected structure"


def _nested_input_model():
    x = lamina.Input(shape=(3,), batch_size=2, name="input_a")
    return lamina.Model([[x]], layers.Dense(4)(layers.Dense(5)(x)))


def test_nested_list_inputs_are_kept_and_round_trip():
    model = _nested_input_model()
    assert isinstance(model.input, list) and isinstance(model.input[0], list)
    config = json.loads(model.to_json())["config"]
    assert config["input_layers"] == [[["input_a", 0, 0]]]
    restored = lamina.models.model_from_json(model.to_json())
    assert restored.to_json() == model.to_json()
    out = restored.predict([[np.ones((2, 3), "float32")]], verbose=0)
    assert out.shape == (2, 4)


def test_nested_list_inputs_config_matches_keras():
    keras = pytest.importorskip("keras")
    x = keras.Input(shape=(3,), batch_size=2, name="input_a")
    theirs = keras.Model([[x]], keras.layers.Dense(4)(keras.layers.Dense(5)(x)))
    ours = _nested_input_model()
    assert (
        json.loads(ours.to_json())["config"]["input_layers"]
        == json.loads(theirs.to_json())["config"]["input_layers"]
    )


def test_list_of_one_input_still_acts_as_the_tensor():
    x = lamina.Input((3,), name="x")
    model = lamina.Model([x], layers.Dense(2)(x))
    # Keras keeps the list (`model.input` is `[x]`); calls take the tensor.
    assert isinstance(model.input, list) and model.input[0] is x
    restored = lamina.Model.from_config(model.get_config())
    assert restored(np.ones((2, 3), "float32")).shape == (2, 2)


def test_extra_dict_input_key_warns_once_and_is_ignored():
    a = lamina.Input(shape=(3,), batch_size=2, name="a")
    model = lamina.Model({"a": a}, a * 5 + 2)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = model({"a": np.ones((2, 3), "float32"), "b": np.ones((2, 1))})
        np.testing.assert_allclose(
            lamina.ops.convert_to_numpy(out), np.full((2, 3), 7.0)
        )
        sym = model(
            {
                "a": lamina.Input(shape=(3,), batch_size=2),
                "b": lamina.Input(shape=(1,), batch_size=2),
            }
        )
        assert tuple(sym.shape) == (2, 3)
    messages = [str(w.message) for w in record]
    assert len(messages) == 1 and messages[0].startswith(_KEY_PHRASE)
    assert "'b'" in messages[0]


def test_list_for_dict_inputs_warning_starts_with_keras_phrase():
    i1, i2 = lamina.Input((2,)), lamina.Input((2,))
    model = lamina.Model({"i1": i1, "i2": i2}, layers.Add()([i1, i2]))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model.predict([np.ones((2, 2)), np.zeros((2, 2))], verbose=0)
    assert sum(str(w.message).startswith(_KEY_PHRASE) for w in record) == 1


def test_list_for_unsorted_dict_inputs_error_has_keras_phrase():
    b, a = lamina.Input((2,), name="b"), lamina.Input((2,), name="a")
    model = lamina.Model({"b": b, "a": a}, layers.Add()([b, a]))
    with pytest.raises(ValueError, match=_KEY_PHRASE):
        model([np.ones((2, 2)), np.zeros((2, 2))])


def test_incompatible_input_shape_error_names_input_and_path():
    x = lamina.Input(shape=(3,), name="foo")
    model = lamina.Model(x, layers.Dense(3)(x))
    with pytest.raises(ValueError, match=r"name 'foo' .* path ''"):
        model(np.ones((2, 3, 4), "float32"))
    inputs = [{"foo": lamina.Input(shape=(3,), name="my_input")}]
    model = lamina.Model(inputs, layers.Dense(3)(inputs[0]["foo"]))
    with pytest.raises(ValueError, match=r"name 'my_input' .* path '0.foo'"):
        model([{"foo": np.ones((2,), "float32")}])


def test_duplicate_variable_path_error_has_keras_phrase():
    class Twice(lamina.Model):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(2, name="same")
            self.b = layers.Dense(2, name="same")

        def call(self, x):
            return self.b(self.a(x))

    model = Twice()
    model(np.ones((1, 2), "float32"))
    with pytest.raises(
        ValueError, match="The following variable path is found twice in the model"
    ):
        model.get_state_tree()
