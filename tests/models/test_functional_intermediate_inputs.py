"""Functional models that start at intermediate tensors, and Keras's one-axis
leeway for inputs, as in Keras 3."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _chain():
    inputs = lamina.Input((4,), name="x")
    hidden = layers.Dense(3, name="enc")(inputs)
    outputs = layers.Dense(2, name="dec")(layers.Activation("relu", name="act")(hidden))
    return lamina.Model(inputs, outputs)


def test_a_model_from_a_layer_output_to_the_output_shares_the_layers():
    full = _chain()
    tail = lamina.Model(full.get_layer("enc").output, full.output)
    assert tail.input_shape == (None, 3)
    assert [layer.name for layer in tail.layers][1:] == ["act", "dec"]
    assert tail.get_layer("dec") is full.get_layer("dec")
    x = np.random.rand(5, 4).astype("float32")
    hidden = full.get_layer("enc")(x).detach().cpu().numpy()
    np.testing.assert_allclose(
        tail.predict(hidden, verbose=0), full.predict(x, verbose=0), rtol=1e-6
    )
    # The original model is unchanged by the second recording of the calls.
    np.testing.assert_allclose(
        full(x).detach().cpu().numpy(), full.predict(x, verbose=0)
    )


def test_a_branch_kept_from_a_real_input_and_one_started_midway():
    a = lamina.Input((2,), name="a")
    b = lamina.Input((2,), name="b")
    mid = layers.Dense(2, name="mid")(b)
    out = layers.Add()([layers.Dense(2, name="da")(a), layers.Dense(2, name="db")(mid)])
    model = lamina.Model([a, mid], out)
    xa, xm = np.ones((3, 2), "float32"), np.full((3, 2), 2.0, "float32")
    expected = model.get_layer("da")(xa) + model.get_layer("db")(xm)
    np.testing.assert_allclose(
        model.predict([xa, xm], verbose=0), expected.detach().cpu().numpy(), rtol=1e-6
    )


def test_the_tail_model_saves_and_loads_in_lamina_and_keras(tmp_path):
    keras = pytest.importorskip("keras")
    full = _chain()
    tail = lamina.Model(full.get_layer("enc").output, full.output)
    path = tmp_path / "tail.keras"
    tail.save(path)
    hidden = np.random.rand(4, 3).astype("float32")
    expected = tail.predict(hidden, verbose=0)
    np.testing.assert_allclose(
        lamina.saving.load_model(path).predict(hidden, verbose=0), expected
    )
    theirs = keras.saving.load_model(path)
    np.testing.assert_allclose(theirs.predict(hidden, verbose=0), expected, rtol=1e-6)


def test_inputs_one_axis_short_or_long_are_adjusted_as_in_keras():
    keras = pytest.importorskip("keras")
    inputs = lamina.Input((1,))
    model = lamina.Model(inputs, layers.Dense(2)(inputs))
    k_inputs = keras.Input((1,))
    theirs = keras.Model(k_inputs, keras.layers.Dense(2)(k_inputs))
    theirs.set_weights(model.get_weights())
    column = np.arange(3, dtype="float32")
    for x in (column, column[:, None], column[:, None, None]):
        np.testing.assert_allclose(
            model.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-6
        )
    with pytest.raises(
        ValueError, match=r"expects shape \(None, 1\); got .*\(3, 1, 1, 1\)"
    ):
        model(np.zeros((3, 1, 1, 1), "float32"))


def test_nested_dict_inputs_reach_their_inputs():
    images = lamina.Input((2,), name="images")
    boxes = lamina.Input((4,), name="boxes")
    labels = lamina.Input((1,), name="labels")
    inputs = {"images": images, "bounding_boxes": {"boxes": boxes, "labels": labels}}
    merged = layers.Concatenate()([images, boxes, labels])
    model = lamina.Model(inputs, merged)
    data = {
        "images": np.full((3, 2), 1.0, "float32"),
        "bounding_boxes": {
            "boxes": np.full((3, 4), 2.0, "float32"),
            "labels": np.full((3,), 3.0, "float32"),  # one axis short
        },
    }
    out = model.predict(data, verbose=0)
    np.testing.assert_array_equal(out[0], [1, 1, 2, 2, 2, 2, 3])
