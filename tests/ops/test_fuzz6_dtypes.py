"""Regression tests for op dtype/edge-case bugs found by differential fuzzing
against Keras 3 on torch (session 6): each case states Keras's result."""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")

from lamina import ops  # noqa: E402


def _t(values, dtype):
    return torch.tensor(values, dtype=dtype)


@pytest.mark.parametrize(
    "name, scalar, expected",
    [
        ("add", 2, torch.int32),
        ("multiply", 2, torch.int32),
        ("subtract", 2, torch.int32),
        ("maximum", 2, torch.int32),
        ("minimum", 2, torch.int32),
        ("add", 1.5, torch.float32),
        ("maximum", True, torch.bool),
        ("minimum", True, torch.bool),
    ],
)
def test_bool_tensor_with_python_number(name, scalar, expected):
    # Keras: bool next to a Python int is int32 (torch alone gives int64), and
    # maximum/minimum of bools with a bool stay bool (torch's clamp refuses).
    mask = _t([True, False], torch.bool)
    fn = getattr(ops, name)
    assert fn(mask, scalar).dtype == expected
    assert fn(scalar, mask).dtype == expected


def test_maximum_of_bool_tensor_and_bool_values():
    mask = _t([True, False], torch.bool)
    assert ops.maximum(mask, True).tolist() == [True, True]
    assert ops.minimum(mask, True).tolist() == [True, False]
    assert ops.maximum(mask, 2).tolist() == [2, 2]


def test_subtract_with_a_bool_operand():
    # Keras casts the bool operand to the other's dtype; torch refuses bools.
    mask = _t([True, False, True], torch.bool)
    out = ops.subtract(mask, _t([1, 2, 3], torch.int8))
    assert out.dtype == torch.int8 and out.tolist() == [0, -2, -2]
    out = ops.subtract(_t([1.5], torch.float64), mask[:1])
    assert out.dtype == torch.float64 and out.tolist() == [0.5]
    out = ops.subtract(False, _t([1.5], torch.float64))
    assert out.dtype == torch.float64 and out.tolist() == [-1.5]
    with pytest.raises(RuntimeError):
        ops.subtract(mask, mask)  # two bools: Keras raises too


@pytest.mark.parametrize("name", ["any", "all"])
@pytest.mark.parametrize("kwargs", [{}, {"axis": 0}, {"keepdims": True}])
def test_any_all_of_uint8_are_bool(name, kwargs):
    x = _t([[0, 3], [1, 2]], torch.uint8)
    out = getattr(ops, name)(x, **kwargs)
    assert out.dtype == torch.bool
    expected = getattr(np, name)(x.numpy(), **kwargs)
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("name", ["rad2deg", "deg2rad", "i0", "cbrt"])
def test_int64_gives_float64(name):
    # Keras computes these in float64 for int64 inputs, floatx for other ints.
    x = _t([8, -27, 1], torch.int64)
    out = getattr(ops, name)(x)
    assert out.dtype == torch.float64
    assert getattr(ops, name)(x.to(torch.int32)).dtype == torch.float32


def test_cbrt_values():
    np.testing.assert_allclose(ops.cbrt(_t([8, -27], torch.int64)).numpy(), [2, -3])


def test_hard_tanh_keeps_integer_dtypes():
    out = ops.hard_tanh(_t([-3, 0, 4], torch.int16))
    assert out.dtype == torch.int16 and out.tolist() == [-1, 0, 1]
    out = ops.hard_tanh(_t([0, 4], torch.uint8))
    assert out.dtype == torch.uint8 and out.tolist() == [0, 1]
    assert ops.hard_tanh(_t([-3.0, 0.5], torch.float16)).dtype == torch.float16


def test_int8_products_are_int32():
    # Keras: int8 x int8 accumulates in int32 (torch keeps int8 and overflows).
    a = torch.full((2, 64), 100, dtype=torch.int8)
    b = torch.full((64, 3), 100, dtype=torch.int8)
    out = ops.matmul(a, b)
    assert out.dtype == torch.int32 and out[0, 0].item() == 640000
    out = ops.einsum("ij,jk->ik", a, b)
    assert out.dtype == torch.int32 and out[0, 0].item() == 640000


def test_bool_matmul_and_dot():
    # Keras returns bool: true where some pair of trues meets.
    a = _t([[True, False], [False, False]], torch.bool)
    b = _t([[True, True], [True, False]], torch.bool)
    out = ops.matmul(a, b)
    assert out.dtype == torch.bool
    assert out.tolist() == [[True, True], [False, False]]
    assert ops.dot(a, b).tolist() == out.tolist()


def test_power_of_integers_to_a_negative_python_int():
    # torch refuses `int_tensor ** -1`; Keras converts the exponent to a tensor.
    out = ops.power(_t([1, -1, 2], torch.int8), -1)
    assert out.dtype == torch.int8 and out.tolist() == [1, -1, 0]
    assert ops.power(_t(2, torch.int8), -1).dtype == torch.int32  # 0-d: int32 wins
    assert ops.power(_t([2.0], torch.float32), -1).tolist() == [0.5]


def test_normalize_float16():
    # The inverse-norm cap 1 / epsilon overflows float16; it used to raise.
    x = _t([[3.0, 4.0], [0.0, 0.0]], torch.float16)
    out = ops.normalize(x, axis=-1, order=2)
    assert out.dtype == torch.float16
    np.testing.assert_allclose(out.float().numpy(), [[0.6, 0.8], [0.0, 0.0]], atol=1e-3)


def test_against_keras():
    keras = pytest.importorskip("keras")
    mask = _t([True, False], torch.bool)
    cases = [
        ("add", (mask, 2)),
        ("subtract", (mask, _t([1, 2], torch.int8))),
        ("maximum", (mask, True)),
        ("all", (_t([[0, 3], [1, 2]], torch.uint8),)),
        ("rad2deg", (_t([1, 2], torch.int64),)),
        ("cbrt", (_t([8, -27], torch.int64),)),
        ("hard_tanh", (_t([-3, 0, 4], torch.int16),)),
        (
            "matmul",
            (torch.ones(2, 3, dtype=torch.int8), torch.ones(3, 2, dtype=torch.int8)),
        ),
        (
            "matmul",
            (torch.ones(2, 3, dtype=torch.bool), torch.ones(3, 2, dtype=torch.bool)),
        ),
        ("power", (_t([1, -1, 2], torch.int8), -1)),
    ]
    for name, args in cases:
        ours = getattr(ops, name)(*args)
        theirs = getattr(keras.ops, name)(*args)
        assert ours.dtype == theirs.dtype, name
        # Keras's rad2deg of int64 computes in float32 before casting to float64.
        np.testing.assert_allclose(
            ours.numpy(), theirs.numpy(), rtol=1e-6, err_msg=name
        )


def test_extract_patches_keeps_integer_dtypes():
    # Keras convolves with a kernel of the image dtype: uint8 stays uint8.
    images = torch.randint(0, 256, (2, 6, 6, 3), dtype=torch.uint8)
    patches = ops.image.extract_patches(images, 2)
    assert patches.dtype == torch.uint8 and tuple(patches.shape) == (2, 3, 3, 12)
    np.testing.assert_array_equal(
        patches[0, 0, 0].reshape(2, 2, 3).numpy(), images[0, :2, :2].numpy()
    )
    volumes = torch.randint(-(2**30), 2**30, (1, 4, 4, 4, 1), dtype=torch.int32)
    patches = ops.image.extract_patches_3d(volumes, 2)
    assert patches.dtype == torch.int32  # exact: copied in float64
    assert patches[0, 0, 0, 0, 0].item() == volumes[0, 0, 0, 0, 0].item()
