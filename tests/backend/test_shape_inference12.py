"""Symbolic dtypes for uint16/uint32 inputs: torch's fake tensors skip the
dtype checks real tensors make (uint16 + int8 is uint16 there, refused on real
tensors), so shape inference probes these on real tensors, through the same
int64 retry as eager ops. Expected dtypes: Keras 3.15.1 (torch backend)
`keras.ops.*` on `keras.KerasTensor`s."""

import numpy as np
import pytest

import lamina
from lamina import ops


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("uint16", "int16", "int32"),
        ("uint16", "int8", "int32"),
        ("uint32", "int8", "int32"),
        ("uint32", "int64", "int32"),
        ("uint16", "uint16", "uint16"),
        ("uint16", "float32", "float32"),
        ("uint8", "int8", "int16"),
    ],
)
def test_symbolic_add_promotes_like_keras_and_like_eager(a, b, expected):
    out = ops.add(
        lamina.KerasTensor((None, 3), dtype=a), lamina.KerasTensor((None, 3), dtype=b)
    )
    assert out.dtype == expected and out.shape == (None, 3)
    eager = ops.add(ops.ones((2, 3), dtype=a), ops.ones((2, 3), dtype=b))
    assert lamina.backend.standardize_dtype(eager.dtype) == expected


def test_symbolic_reductions_on_uint16_keep_keras_dtypes():
    x = lamina.KerasTensor((None, 3), dtype="uint16")
    assert ops.max(x, axis=-1).dtype == "uint16"
    assert ops.max(x, axis=-1).shape == (None,)
    assert ops.cumsum(x, axis=-1).dtype == "uint16"
    assert ops.sum(x, axis=-1).dtype == "int32"
    assert ops.clip(x, 0, 3).dtype == "uint16"


def test_functional_input_of_uint16_gets_the_promoted_dtype():
    inp = lamina.Input((3,), dtype="uint16")
    assert ops.add(inp, ops.ones((3,), dtype="int8")).dtype == "int32"


def test_an_op_on_a_keras_tensor_and_a_variable_infers_its_shape():
    # torch 2.11's FakeTensorMode refused lamina Variables passed to an op as
    # constants (layer.call(keras_tensor) reads layer.kernel that way).
    x = lamina.Input((4,))
    weight = lamina.Variable(np.ones((4, 3), "float32"))
    y = lamina.ops.matmul(x, weight)
    assert tuple(y.shape) == (None, 3)
    assert type(weight) is lamina.Variable  # given back its class afterwards
    model = lamina.Model(x, y)
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(model(np.ones((2, 4), "float32"))),
        np.full((2, 3), 4.0),
    )
