"""Differences from Keras found by running Keras's own tests on lamina (session
12): ops on uint16/uint32 tensors, which torch has few CPU kernels for and will
not promote with other dtypes. Expected dtypes and values are what Keras's JAX
backend (jax.numpy, 64-bit disabled) returns."""

import numpy as np
import pytest
import torch

import lamina
from lamina import ops, random


@pytest.mark.parametrize("dtype", ["uint16", "uint32"])
@pytest.mark.parametrize(
    "name, call, expected",
    [
        ("max", lambda x: ops.max(x), 3),
        ("min", lambda x: ops.min(x), 1),
        ("amax", lambda x: ops.amax(x), 3),
        ("cumsum", lambda x: ops.cumsum(x), [3, 4, 6]),
        ("cumprod", lambda x: ops.cumprod(x), [3, 3, 6]),
        ("abs", lambda x: ops.abs(x), [3, 1, 2]),
        ("maximum", lambda x: ops.maximum(x, x), [3, 1, 2]),
        ("clip", lambda x: ops.clip(x, 2, 2), [2, 2, 2]),
        ("top_k", lambda x: ops.top_k(x, 2)[0], [3, 2]),
    ],
)
def test_unsigned_ops_keep_their_dtype(dtype, name, call, expected):
    for x in (
        np.array([3, 1, 2], dtype),
        torch.tensor([3, 1, 2]).to(getattr(torch, dtype)),
    ):
        out = call(x)
        assert out.dtype == getattr(torch, dtype), name
        np.testing.assert_array_equal(out.to(torch.int64).cpu().numpy(), expected)


def test_unsigned_index_results_stay_int32():
    x = np.array([3, 1, 2], "uint16")
    assert ops.argmax(x).dtype == torch.int32
    assert int(ops.argmax(x)) == 0
    assert ops.argmin(x).dtype == torch.int32
    assert int(ops.argmin(x)) == 1
    values, indices = ops.top_k(x, 2)
    assert (values.dtype, indices.dtype) == (torch.uint16, torch.int32)
    assert indices.tolist() == [0, 2]


def test_unsigned_values_beyond_the_signed_range_survive():
    x = np.array([4_000_000_000, 1], "uint32")
    out = ops.max(x)
    assert out.dtype == torch.uint32 and int(out) == 4_000_000_000
    y = np.array([65535, 2], "uint16")
    assert int(ops.cumsum(y)[-1]) == 1  # wraps in uint16, as jnp.cumsum does


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("uint16", "int8", torch.int32),
        ("uint16", "uint32", torch.uint32),
        ("uint8", "uint16", torch.uint16),
        ("uint32", "int32", torch.int32),
        ("uint16", "bool", torch.uint16),
        ("uint16", "float16", torch.float16),
    ],
)
def test_unsigned_mixed_with_other_dtypes_promote_as_keras(a, b, expected):
    x1 = np.array([1, 2], a)
    x2 = np.array([1, 0], b)
    out = ops.add(x1, x2)
    assert out.dtype == expected
    np.testing.assert_array_equal(out.to(torch.float64).cpu().numpy(), [2, 2])
    assert ops.concatenate([x1, x2]).dtype == expected
    assert ops.where(np.array([True, False]), x1, x2).dtype == expected
    assert ops.less(x1, x2).tolist() == [False, False]


def test_unsigned_errors_that_are_not_dtype_errors_still_raise():
    with pytest.raises(RuntimeError, match="size of tensor"):
        ops.add(np.ones(2, "uint16"), np.ones(3, "int8"))


def test_randint_in_unsigned_dtypes_can_be_reduced():
    # Keras's random test takes ops.max / ops.min of randint(dtype="uint16").
    x = random.randint((50,), 0, 10, dtype="uint32", seed=1)
    assert x.dtype == torch.uint32
    assert 0 <= int(ops.min(x)) <= int(ops.max(x)) < 10


def test_unsigned_data_gathered_by_int_indices_keeps_its_dtype():
    x = np.array([[3, 1, 2]], "uint16")
    out = ops.take_along_axis(x, np.array([[2, 0]], "int32"), axis=1)
    assert out.dtype == torch.uint16
    assert out.tolist() == [[2, 3]]


@pytest.mark.parametrize("dtype", ["uint16", "uint32"])
def test_creation_ops_make_unsigned_tensors(dtype):
    torch_dtype = getattr(torch, dtype)
    assert ops.eye(2, dtype=dtype).dtype == torch_dtype
    assert ops.eye(2, dtype=dtype).tolist() == [[1, 0], [0, 1]]
    assert ops.identity(2, dtype=dtype).dtype == torch_dtype
    assert ops.tri(2, dtype=dtype).tolist() == [[1, 0], [1, 1]]
    out = ops.arange(0, 4, dtype=dtype)
    assert out.dtype == torch_dtype and out.tolist() == [0, 1, 2, 3]


def test_a_functional_model_runs_uint16_ops_as_the_eager_ops_do():
    inputs = lamina.Input((3,), dtype="uint16")
    largest = lamina.Model(inputs, ops.max(inputs, axis=-1))
    out = largest(np.array([[1, 7, 3]], "uint16"))
    assert out.dtype == torch.uint16 and out.tolist() == [7]
    added = lamina.Model(inputs, ops.add(inputs, ops.ones((3,), "int8")))
    out = added(np.ones((2, 3), "uint16"))
    assert out.dtype == torch.int32 and out.tolist() == [[2, 2, 2], [2, 2, 2]]
