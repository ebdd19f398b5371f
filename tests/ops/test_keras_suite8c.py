"""Regressions found by running Keras 3's own ops tests against lamina (session 8,
part C): dtypes, symbolic shapes, argument checks and Keras's error phrases."""

import os
import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import ops
from lamina.backend.keras_tensor import KerasTensor

os.environ.setdefault("KERAS_BACKEND", "torch")


def _np(x):
    return ops.convert_to_numpy(x)


# dtypes


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2"])
def test_cast_to_float8_and_back_eagerly_and_symbolically(dtype):
    y = ops.cast(ops.ones((2,)), dtype)
    assert lamina.backend.standardize_dtype(y.dtype) == dtype
    np.testing.assert_array_equal(_np(ops.cast(y, "float32")), [1.0, 1.0])
    symbolic = ops.cast(KerasTensor((2,)), dtype)
    assert (symbolic.dtype, symbolic.shape) == (dtype, (2,))
    assert ops.cast(symbolic, "float32").dtype == "float32"


def test_result_type_refuses_implicit_float8_promotion():
    with pytest.raises(ValueError, match="no implicit conversions from float8"):
        lamina.backend.result_type("float8_e4m3fn", "float32")


def test_bfloat16_numpy_arrays_convert_with_their_values():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    values = np.array([[1.5], [2.25], [-3.0]], dtype=ml_dtypes.bfloat16)
    x = ops.convert_to_tensor(values.T)  # a non-contiguous view too
    assert x.dtype == torch.bfloat16
    np.testing.assert_array_equal(x.float().cpu().numpy(), [[1.5, 2.25, -3.0]])
    assert ops.convert_to_tensor(values[0, 0]).shape == ()
    assert ops.add(values, 1).dtype == torch.bfloat16


@pytest.mark.parametrize("name", ["bartlett", "blackman", "hamming", "hanning"])
def test_windows_take_a_length_held_in_a_float_tensor(name):
    length = ops.ones((), dtype="float32") * 4
    np.testing.assert_allclose(
        _np(getattr(ops, name)(length)), getattr(np, name)(4), atol=1e-6
    )
    with pytest.raises(TypeError, match="window length as an int"):
        getattr(ops, name)(2.5)


# numpy: reductions over no axis, empty reductions, dtypes


@pytest.mark.parametrize("name", ["var", "std", "average", "nanmedian", "max"])
def test_reducing_over_no_axis_keeps_every_value_as_numpy(name):
    x = np.array([[1.0, np.nan, 3.0], [np.inf, 2.0, -np.inf]], "float32")
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's all-NaN note
        expected = getattr(np, name)(x, axis=())
    got = _np(getattr(ops, name)(x, axis=()))
    np.testing.assert_allclose(got, expected, equal_nan=True)


def test_max_and_min_of_empty_tensors_with_initial():
    empty = np.zeros((0, 3), "float32")
    np.testing.assert_array_equal(_np(ops.max(empty, initial=1)), 1.0)
    np.testing.assert_array_equal(_np(ops.min(empty, axis=0, initial=2)), [2.0] * 3)
    assert ops.max(np.ones(2, bool), initial=1).dtype == torch.bool


def test_argsort_of_a_scalar_is_a_one_element_array():
    np.testing.assert_array_equal(_np(ops.argsort(np.array(3))), [0])


def test_average_and_einsum_dtypes_follow_keras():
    ints, halves = ops.ones((2,), "int16"), ops.ones((2,), "bfloat16")
    assert ops.average(ints, weights=halves).dtype == torch.bfloat16
    assert ops.average(ints, weights=ops.ones((2,), "int32")).dtype == torch.float32
    int8, flags = ops.ones((2,), "int8"), ops.ones((2,), "bool")
    assert ops.einsum("i,i->", int8, int8).dtype == torch.int32
    assert ops.einsum("i,i->", int8, flags).dtype == torch.int8


def test_histogram_checks_its_range():
    with pytest.raises(ValueError, match="must be a tuple of two elements"):
        ops.histogram(np.ones(4), range=(1,))
    with pytest.raises(ValueError, match="second element of `range` must be greater"):
        ops.histogram(np.ones(4), range=(5, 1))


@pytest.mark.parametrize("newshape", [(-2, 5), (-1, -1, 5)])
def test_reshape_rejects_bad_newshape_entries(newshape):
    with pytest.raises(ValueError, match="non-negative integer.*-1"):
        ops.reshape(np.zeros(20), newshape)


def test_transpose_rejects_out_of_range_axes_with_a_value_error():
    with pytest.raises(ValueError, match=r"integer in \[-3, 3\)"):
        ops.transpose(KerasTensor((2, 3, 4)), axes=[0, 1, 5])
    with pytest.raises(ValueError, match=r"valid permutation.*axes=\[0, 0, 0\]"):
        ops.transpose(np.ones((2, 3, 4)), axes=[0, 0, 0])


# core: slice, unstack, cond, while_loop, convert_to_numpy


def test_slice_size_minus_one_takes_the_rest_of_the_axis():
    x = torch.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(_np(ops.slice(x, (1, 1), (-1, -1))), [[4, 5], [7, 8]])
    starts = [torch.tensor(1), torch.tensor(0)]  # scalar tensors (a loop counter)
    np.testing.assert_array_equal(_np(ops.slice(x, starts, [1, -1])), [[3, 4, 5]])
    assert ops.slice(KerasTensor((3, 3)), (1, 1), (-1, -1)).shape == (2, 2)
    assert ops.slice(KerasTensor((None, 3)), (1, 1), (-1, -1)).shape == (None, 2)


def test_slice_rank_mismatch_names_both_dimension_counts():
    with pytest.raises(ValueError, match="dimensions in `start_indices` must match"):
        ops.slice(KerasTensor((3, 3)), (0, 0, 0), (1, 1, 1))
    with pytest.raises(ValueError, match="dimensions in `inputs` must match"):
        ops.slice(np.ones((3, 3)), (0, 0), (1, 1, 1))


def test_unstack_on_symbolic_tensors():
    outs = ops.unstack(KerasTensor((2, None, None)), num=3, axis=1)
    assert [o.shape for o in outs] == [(2, None)] * 3
    with pytest.raises(ValueError, match="Cannot infer argument `num`"):
        ops.unstack(KerasTensor((2, None, None)), axis=1)
    with pytest.raises(ValueError, match="axis 10 is out of bounds"):
        ops.unstack(KerasTensor((3, 4)), axis=10)
    with pytest.raises(ValueError, match="axis 10 is out of bounds"):
        ops.unstack(np.ones((3, 4)), axis=10)


def test_symbolic_cond_checks_that_both_branches_agree():
    pred = KerasTensor((), dtype="bool")
    out = ops.cond(pred, lambda: ops.ones((3,)), lambda: ops.zeros((3,)))
    assert out.shape == (3,)
    with pytest.raises(ValueError, match="same structure"):
        ops.cond(pred, lambda: ops.ones((3,)), lambda: ops.zeros((4,)))
    assert _np(ops.cond(ops.convert_to_tensor(False), lambda: 1, lambda: 2)) == 2


def test_symbolic_while_loop_keeps_the_loop_variables_shapes():
    out = ops.while_loop(lambda x: True, lambda x: (x,), (KerasTensor((10,)),))
    assert out[0].shape == (10,)  # never runs the (endless) loop
    assert int(ops.while_loop(lambda i: i < 10, lambda i: i + 3, 0)) == 12


def test_convert_to_numpy_refuses_symbolic_tensors():
    with pytest.raises(ValueError, match="symbolic tensor"):
        ops.convert_to_numpy(KerasTensor((2,)))


# math


@pytest.mark.parametrize("op_name", ["segment_sum", "segment_max"])
def test_symbolic_segment_reductions(op_name):
    fn = getattr(ops, op_name)
    ids = KerasTensor((10,), dtype="int32")
    assert fn(KerasTensor((10, 4)), ids).shape == (None, 4)
    assert fn(KerasTensor((10, 4)), ids, num_segments=5).shape == (5, 4)
    assert fn(KerasTensor((None, 4)), KerasTensor((5,))).shape == (None, 4)
    assert fn(KerasTensor((None, 4)), ids, num_segments=5).shape == (5, 4)
    with pytest.raises(ValueError, match="should be an 1-D vector"):
        fn(np.ones(4), np.zeros((2, 2), "int32"))
    with pytest.raises(ValueError, match="should have same leading dimension"):
        fn(np.ones(3), np.zeros(4, "int32"))


@pytest.mark.parametrize("stride", [0, -5, 1.5])
def test_stft_and_istft_reject_strides_that_are_not_positive_ints(stride):
    with pytest.raises(ValueError, match="`sequence_stride` must be a positive"):
        ops.stft(np.ones(8, "float32"), 2, stride, 4)
    with pytest.raises(ValueError, match="`sequence_stride` must be a positive"):
        ops.istft((np.ones((1, 3)), np.ones((1, 3))), 2, stride, 4)


@pytest.mark.parametrize(
    "call, phrase",
    [
        (lambda: ops.fft2((np.ones(3), np.ones(3))), "rank >= 2"),
        (lambda: ops.rfft(np.array(5.0)), "rank >= 1"),
        (lambda: ops.fft(np.ones(3)), "should be a tuple of two tensors"),
        (lambda: ops.fft((np.ones(3), np.ones(2))), "should have the same shape"),
        (lambda: ops.extract_sequences(np.array(4.0), 2, 1), "rank >= 1"),
    ],
)
def test_fft_family_checks_inputs(call, phrase):
    with pytest.raises(ValueError, match=phrase):
        call()


# nn


@pytest.mark.parametrize("op_name", ["softmax", "log_softmax", "normalize"])
def test_activation_axis_out_of_range_is_a_value_error(op_name):
    fn = getattr(ops, op_name)
    with pytest.raises(ValueError, match="axis 10 is out of bounds"):
        fn(np.ones((3, 4), "float32"), axis=10)
    with pytest.raises(ValueError, match="axis 3 is out of bounds"):
        fn(KerasTensor((None, 2, 3)), axis=3)


# image


def test_gaussian_blur_takes_numpy_kernel_sizes():
    images = np.random.default_rng(0).random((8, 8, 1)).astype("float32")
    from_array = ops.image.gaussian_blur(images, np.array([3, 3]), np.array([1.0, 1.0]))
    from_tuple = ops.image.gaussian_blur(images, (3, 3), (1.0, 1.0))
    np.testing.assert_allclose(_np(from_array), _np(from_tuple))


def test_extract_patches_size_of_wrong_type_or_length():
    images = np.ones((1, 10, 10, 3), "float32")
    with pytest.raises(TypeError, match="Expected an int or a tuple"):
        ops.image.extract_patches(images, "5")
    with pytest.raises(ValueError, match="Expected a tuple of length 2 or 3"):
        ops.image.extract_patches(images, (1, 2, 3, 4))


# Keras's key phrases in lamina's messages (Keras tests match on them)


_PHRASES = [
    (lambda: ops.qr(np.ones((2, 2)), mode="bad"), ValueError, "Expected one of"),
    (lambda: ops.stft(np.ones(4, "int32"), 2, 1, 4), TypeError, "`float32` or"),
    (lambda: ops.stft(np.ones(4), 4, 1, 2), ValueError, "`fft_length` must equal"),
    (lambda: ops.stft(np.ones(4), 2, 1, 4, window="x"), ValueError, "string is passed"),
    (
        lambda: ops.stft(np.ones(4), 2, 1, 4, window=np.ones(3)),
        ValueError,
        "shape of `window`",
    ),
    (lambda: ops.view_as_complex(np.ones(3)), ValueError, "Last dimension of input"),
    (lambda: ops.scan(123, 0, np.ones(2)), TypeError, "should be a callable"),
    (lambda: ops.normalize(np.ones(3), order=0), ValueError, "`order` must be an int"),
    (
        lambda: ops.depth_to_space(np.ones((1, 4, 4, 4)), 0),
        ValueError,
        "must be at least 2",
    ),
    (
        lambda: ops.ctc_decode(np.ones((1, 2, 3)), [2], strategy="x"),
        ValueError,
        "Invalid strategy",
    ),
    (
        lambda: ops.pad(np.ones(3), 1, mode="reflect", constant_values=1),
        ValueError,
        "can only be provided",
    ),
    (
        lambda: ops.image.resize(np.ones((4, 4, 3)), (0, 2)),
        ValueError,
        "positive height and width",
    ),
    (
        lambda: ops.image.rgb_to_hsv(np.ones((4, 4, 3), "int32")),
        ValueError,
        "Invalid images dtype",
    ),
    (
        lambda: ops.image.hsv_to_rgb(np.ones((4, 4, 3))[:, :, :2]),
        ValueError,
        "must have 3 channels",
    ),
    (
        lambda: ops.image.rgb_to_grayscale(np.ones((3, 3))),
        ValueError,
        "Invalid images rank",
    ),
    (
        lambda: ops.image.crop_images(np.ones((10, 10, 3)), -1, 0, None, None, 8, 8),
        ValueError,
        "top_cropping must be >= 0",
    ),
    (
        lambda: ops.image.pad_images(np.ones((10, 10, 3)), 0, 0, 0, 0, 16, 16),
        ValueError,
        "Must specify exactly two",
    ),
]


@pytest.mark.parametrize("call, error, phrase", _PHRASES)
def test_errors_carry_keras_key_phrase(call, error, phrase):
    with pytest.raises(error, match=phrase):
        call()
