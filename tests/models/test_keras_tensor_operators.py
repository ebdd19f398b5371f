"""Python operators on symbolic tensors (`x + 1`, `x[:, :2]`, `x > 0`) build
functional graphs as in Keras 3, and those graphs save, load and run in both
libraries."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina  # noqa: E402

keras = pytest.importorskip("keras")


def _expression(x, ops):
    scaled = (x - 1.0) * 2 + x[:, :1] / 4 - abs(-x) ** 2
    mixed = 1 - (2 * x) % 3 + 10 // (x + 1) + round(x / 3)
    gate = ops.cast((x > 1) & (x <= 4) | ~(x != 2), "float32")
    return scaled + mixed + gate + (x @ ops.ones((3, 3))).reshape((-1, 3))


def _models():
    ours_in, theirs_in = lamina.Input((3,)), keras.Input((3,))
    ours = lamina.Model(ours_in, _expression(ours_in, lamina.ops))
    theirs = keras.Model(theirs_in, _expression(theirs_in, keras.ops))
    return ours, theirs


def test_operators_build_the_same_graph_values_as_keras():
    ours, theirs = _models()
    x = np.arange(12, dtype="float32").reshape(4, 3)
    expected = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-6)
    assert lamina.Input((3,)) is not None  # `==` stays identity: tensors hash
    assert len({lamina.Input((2,)), lamina.Input((2,))}) == 2


def test_a_graph_of_operators_saves_and_loads_in_both_libraries(tmp_path):
    ours, theirs = _models()
    x = np.arange(12, dtype="float32").reshape(4, 3)
    expected = ours.predict(x, verbose=0)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    reloaded = lamina.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, rtol=1e-6)
    from_keras = lamina.saving.load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(from_keras.predict(x, verbose=0), expected, rtol=1e-6)
    in_keras = keras.saving.load_model(tmp_path / "ours.keras")
    got = keras.ops.convert_to_numpy(in_keras(x))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_ops_with_non_tensor_arguments_write_them_where_keras_reads_them(tmp_path):
    # Keras keeps Sum's axis, Cast's dtype, Concatenate's axis... in the op's
    # config and the tensors in the node.
    ops = lamina.ops
    inputs = lamina.Input((4,))
    summed = ops.sum(inputs, axis=-1, keepdims=True)
    joined = ops.concatenate([ops.cast(inputs > 1, "float32"), summed], axis=1)
    clipped = ops.clip(ops.reshape(joined, (-1, 5, 1)), 0.5, 3.0)
    model = lamina.Model(inputs, ops.mean(ops.expand_dims(clipped, 0), axis=0))
    cast_entry = next(
        layer for layer in model.get_config()["layers"] if layer["class_name"] == "Cast"
    )
    assert cast_entry["config"]["dtype"] == "float32"
    assert len(cast_entry["inbound_nodes"][0]["args"]) == 1
    x = np.arange(8, dtype="float32").reshape(2, 4)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "ops.keras")
    in_keras = keras.saving.load_model(tmp_path / "ops.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(in_keras(x)), expected)
    reloaded = lamina.saving.load_model(tmp_path / "ops.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected)
