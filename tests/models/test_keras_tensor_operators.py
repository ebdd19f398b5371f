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
    # Keras keeps an op's non-tensor arguments in the op's config; lamina
    # writes them into the node, so Keras reads graphs of tensor-only ops.
    plain_in = lamina.Input((3,))
    plain = lamina.Model(plain_in, (plain_in - 1.0) * plain_in[:, :1] / 4)
    plain.save(tmp_path / "plain.keras")
    in_keras = keras.saving.load_model(tmp_path / "plain.keras")
    got = keras.ops.convert_to_numpy(in_keras(x))
    np.testing.assert_allclose(got, plain.predict(x, verbose=0), rtol=1e-6)
