"""Symbolic shapes of ops on unknown sizes where probing with small sizes
misleads (session 10): squeeze of an unknown axis, pieces of a split at
indices, per-element repeats, square-matrix checks, and image ops whose
shape arguments are symbolic."""

import os

import numpy as np
import pytest

import lamina
from lamina import KerasTensor, ops

os.environ.setdefault("KERAS_BACKEND", "torch")


def _shapes(result):
    return [tuple(piece.shape) for piece in result]


# squeeze


def test_squeeze_of_an_unknown_axis_raises_as_in_keras():
    with pytest.raises(ValueError, match="because the dimension is not 1"):
        ops.squeeze(KerasTensor((None, 1)), axis=0)


def test_squeeze_error_names_the_symbolic_shape():
    with pytest.raises(ValueError, match=r"\(None, 2\)"):
        ops.squeeze(KerasTensor((None, 2)), axis=1)


def test_squeeze_of_known_size_one_axes_keeps_unknown_ones():
    assert ops.squeeze(KerasTensor((None, 1)), axis=1).shape == (None,)
    assert ops.squeeze(KerasTensor((None, 1, 3, 1))).shape == (None, 3)
    assert ops.squeeze(KerasTensor((None, 1, 3, 1)), axis=(1, -1)).shape == (None, 3)


# split, array_split, hsplit, vsplit, dsplit at indices


@pytest.mark.parametrize(
    "fn, shape, kwargs, expected",
    [
        (ops.split, (None, 4), {}, [(1, 4), (2, 4), (None, 4)]),
        (ops.split, (2, None), {"axis": 1}, [(2, 1), (2, 2), (2, None)]),
        (ops.vsplit, (None, 4), {}, [(1, 4), (2, 4), (None, 4)]),
        (ops.hsplit, (3, None), {}, [(3, 1), (3, 2), (3, None)]),
        (ops.hsplit, (None,), {}, [(1,), (2,), (None,)]),
        (ops.dsplit, (2, 3, None), {}, [(2, 3, 1), (2, 3, 2), (2, 3, None)]),
    ],
)
def test_split_at_indices_of_an_unknown_axis(fn, shape, kwargs, expected):
    pieces = fn(KerasTensor(shape, dtype="float16"), [1, 3], **kwargs)
    assert _shapes(pieces) == expected
    assert all(piece.dtype == "float16" for piece in pieces)


def test_split_at_indices_matches_keras():
    keras = pytest.importorskip("keras")
    for indices in ([1, 3], (2,), np.array([1, 2, 5])):
        ours = ops.split(KerasTensor((None, 4)), indices)
        theirs = keras.ops.split(keras.KerasTensor((None, 4)), indices)
        assert _shapes(ours) == [tuple(t.shape) for t in theirs]


def test_split_at_indices_of_a_known_axis_still_probes():
    # Known sizes: the real pieces, index past the end included.
    assert _shapes(ops.split(KerasTensor((None, 4)), [1, 6], axis=1)) == [
        (None, 1),
        (None, 3),
        (None, 0),
    ]


def test_split_into_sections_of_an_unknown_axis():
    assert _shapes(ops.vsplit(KerasTensor((None, 4)), 2)) == [(None, 4)] * 2
    assert _shapes(ops.split(KerasTensor((None, 4)), 2)) == [(None, 4)] * 2


def test_split_at_indices_in_a_functional_model_runs():
    inputs = lamina.Input((None,))
    first, middle, last = ops.split(inputs, [1, 3], axis=1)
    assert (first.shape, middle.shape, last.shape) == (
        (None, 1),
        (None, 2),
        (None, None),
    )
    model = lamina.Model(inputs, [first, middle, last])
    outs = model(np.arange(10, dtype="float32").reshape(2, 5))
    assert [tuple(o.shape) for o in outs] == [(2, 1), (2, 2), (2, 2)]


# repeat with per-element repeats


@pytest.mark.parametrize(
    "shape, repeats, axis, expected",
    [
        ((None, 3), [1, 2], 0, (None, 3)),
        ((2, None), [1, 2, 3], 1, (2, None)),
        ((None, 3), [1, 2, 3], None, (None,)),
        ((None, 3), [1, 2, 3], 1, (None, 6)),
        ((None, 3), 2, 0, (None, 3)),
    ],
)
def test_repeat_with_a_list_on_an_unknown_axis(shape, repeats, axis, expected):
    out = ops.repeat(KerasTensor(shape, dtype="int32"), repeats, axis=axis)
    assert out.shape == expected
    assert out.dtype == "int32"


def test_repeat_with_a_list_of_the_wrong_length_on_a_known_axis_raises():
    with pytest.raises(ValueError):
        ops.repeat(KerasTensor((None, 3)), [1, 2], axis=1)


# square-matrix checks of linalg ops


@pytest.mark.parametrize(
    "name", ["cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv"]
)
def test_linalg_square_ops_refuse_a_half_known_matrix(name):
    fn = getattr(ops.linalg, name)
    with pytest.raises(ValueError, match="square"):
        fn(KerasTensor((None, None, 20)))
    with pytest.raises(ValueError):
        fn(KerasTensor((None, 20, 15)))


def test_linalg_square_ops_keep_working_on_square_and_unknown_matrices():
    assert ops.linalg.inv(KerasTensor((None, 20, 20))).shape == (None, 20, 20)
    assert ops.linalg.det(KerasTensor((None, 20, 20))).shape == (None,)
    # Both sizes unknown may still be square: as in Keras, no error.
    assert ops.linalg.inv(KerasTensor((None, None, None))).shape == (None, None, None)


@pytest.mark.parametrize("name", ["solve", "solve_triangular"])
def test_linalg_solvers_check_the_right_hand_side(name):
    fn = getattr(ops.linalg, name)
    assert fn(KerasTensor((None, 20, 20)), KerasTensor((None, 20, 5))).shape == (
        None,
        20,
        5,
    )
    assert fn(KerasTensor((None, 20, 20)), KerasTensor((None, 20))).shape == (None, 20)
    with pytest.raises(ValueError, match="rows"):
        fn(KerasTensor((None, 20, 20)), KerasTensor((None, None, 5)))
    with pytest.raises(ValueError, match="square"):
        fn(KerasTensor((None, None, 20)), KerasTensor((None, 20, 5)))


# image ops with symbolic shape arguments


def test_scale_and_translate_to_an_output_shape_with_an_unknown_batch():
    out = ops.image.scale_and_translate(
        KerasTensor((None, 20, 20, 3)),
        output_shape=(None, 25, 25, 3),
        scale=KerasTensor((2,)),
        translation=KerasTensor((2,)),
        spatial_dims=(1, 2),
        method="linear",
    )
    assert out.shape == (None, 25, 25, 3)
    assert out.dtype == "float32"
    out = ops.image.scale_and_translate(
        KerasTensor((None, 20, 20, 3), dtype="uint8"),
        output_shape=(None, 10, 10, 3),
        scale=np.array([0.5, 0.5]),
        translation=np.zeros(2),
        spatial_dims=(1, 2),
        method="cubic",
    )
    assert (out.shape, out.dtype) == ((None, 10, 10, 3), "float32")


def test_scale_and_translate_output_shape_of_the_wrong_rank_raises():
    with pytest.raises(ValueError, match="one size per axis"):
        ops.image.scale_and_translate(
            KerasTensor((None, 20, 20, 3)),
            output_shape=(None, 25, 25),
            scale=np.ones(2),
            translation=np.zeros(2),
            spatial_dims=(1, 2),
            method="linear",
        )


def test_gaussian_blur_with_a_symbolic_kernel_size_and_sigma():
    out = ops.image.gaussian_blur(
        KerasTensor((20, 20, 3), dtype="float16"),
        KerasTensor((2,), dtype="int32"),
        KerasTensor((2,)),
    )
    assert (out.shape, out.dtype) == ((20, 20, 3), "float16")
    with pytest.raises(ValueError, match="rank 3"):
        ops.image.gaussian_blur(KerasTensor((20, 3)), KerasTensor((2,), dtype="int32"))
