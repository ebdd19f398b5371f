"""KerasTensor as Keras: read-only shape/dtype/sparse/ragged, Keras's shape errors,
and lamina's own code that needs another shape or dtype still works."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina.backend.keras_tensor import KerasTensor

os.environ.setdefault("KERAS_BACKEND", "torch")


def _keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize(
    "attribute, value",
    [("shape", (1, 2)), ("dtype", "float16"), ("sparse", True), ("ragged", True)],
)
def test_attributes_are_read_only_as_in_keras(attribute, value):
    x = KerasTensor((None, 3), dtype="float32")
    before = getattr(x, attribute)
    with pytest.raises(AttributeError, match=f"`{attribute}` attribute .* immutable"):
        setattr(x, attribute, value)
    assert getattr(x, attribute) == before
    keras = _keras()
    with pytest.raises(AttributeError):
        setattr(keras.KerasTensor((None, 3)), attribute, value)


@pytest.mark.parametrize(
    "shape, match",
    [
        (3, r"Cannot convert '3' to a shape\."),
        (None, "undefined shapes are not supported"),
        ((2.0, 3), "invalid dimension '2.0'"),
        (("2",), "invalid dimension '2'"),
        ((-1, 3), "Negative dimensions are not allowed"),
    ],
)
def test_bad_shapes_raise_value_error_as_in_keras(shape, match):
    with pytest.raises(ValueError, match=match):
        KerasTensor(shape)
    keras = _keras()
    with pytest.raises(ValueError):
        keras.KerasTensor(shape)


def test_good_shapes_become_tuples_of_ints():
    assert KerasTensor([2, None]).shape == (2, None)
    shape = KerasTensor((np.int64(4), torch.tensor(5))).shape
    assert shape == (4, 5) and all(type(d) is int for d in shape)
    assert KerasTensor(torch.Size([2, 3])).shape == (2, 3)
    x = KerasTensor((2,), dtype="int32", sparse=True)
    assert (x.dtype, x.sparse, x.ragged, x.ndim) == ("int32", True, False, 1)


def test_symbolic_segment_sum_without_num_segments_has_unknown_length():
    # lamina.ops.segment_sum rewrites its output spec's shape (the private field).
    data = lamina.Input((3,), batch_size=5)
    ids = lamina.Input((), batch_size=5, dtype="int32")
    out = lamina.ops.segment_sum(data, ids)
    assert out.shape == (None, 3)
    assert lamina.ops.segment_sum(data, ids, num_segments=4).shape == (4, 3)


def test_model_to_float64_retypes_its_inputs():
    # Model._apply (torch's .double()) gives each float Input the new dtype.
    inputs = lamina.Input((2,))
    model = lamina.Model(inputs, lamina.layers.Dense(3)(inputs))
    model.double()
    assert model.inputs[0].dtype == "float64"
    out = model(np.ones((1, 2), dtype="float32"))
    assert out.dtype == torch.float64 and tuple(out.shape) == (1, 3)
