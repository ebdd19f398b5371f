"""ops.top_k returns a (values, indices) pair with `.values` / `.indices`, as
Keras's torch backend does (nl_image_search: `ops.top_k(sim, k).indices`)."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina

SCORES = np.array([[0.1, 0.9, 0.4, 0.7], [0.8, 0.2, 0.6, 0.3]], "float32")


def test_named_fields_and_unpacking_agree():
    result = lamina.ops.top_k(SCORES, 2)
    values, indices = result
    assert result.values is values and result.indices is indices
    assert lamina.ops.convert_to_numpy(indices).tolist() == [[1, 3], [0, 2]]
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(result.values), [[0.9, 0.7], [0.8, 0.6]]
    )
    assert lamina.ops.convert_to_numpy(indices).dtype == np.int32


def test_matches_keras_and_works_symbolically():
    keras = pytest.importorskip("keras")
    want = keras.ops.top_k(SCORES, 3)
    got = lamina.ops.top_k(SCORES, 3)
    np.testing.assert_array_equal(
        lamina.ops.convert_to_numpy(got.indices),
        keras.ops.convert_to_numpy(want.indices),
    )
    inputs = lamina.Input((4,))
    symbolic = lamina.ops.top_k(inputs, 2)
    assert tuple(symbolic.indices.shape) == (None, 2)
    assert symbolic.indices.dtype == "int32"
    model = lamina.Model(inputs, symbolic.indices)
    assert model.predict(SCORES, verbose=0).tolist() == [[1, 3], [0, 2]]
