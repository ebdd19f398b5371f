"""Differences from Keras 3 found by running Keras's ops tests on lamina (session 9)."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina import ops
from lamina.backend.keras_tensor import KerasTensor
from lamina.ops import operation

os.environ.setdefault("KERAS_BACKEND", "torch")


def _keras():
    return pytest.importorskip("keras")


# --- Python numbers become tensors without a float64 detour ----------------


def test_convert_to_tensor_makes_a_python_float_in_the_asked_dtype():
    # Exact in float64 (no float32 step), and no float64 constant for
    # torch.export to capture when float32 is asked for.
    assert ops.convert_to_tensor(0.1, dtype="float64").item() == 0.1
    assert ops.convert_to_tensor(1e-300, dtype="float64").item() == 1e-300

    class Clamp(torch.nn.Module):
        def forward(self, x):
            return torch.maximum(x, ops.convert_to_tensor(1e-7, dtype="float32"))

    # The input on lamina's device, where convert_to_tensor puts the constant.
    exported = torch.export.export(
        Clamp(), (torch.ones(3, device=lamina.backend.get_device()),)
    )
    dtypes = {v.dtype for v in exported.constants.values()}
    assert dtypes and torch.float64 not in dtypes


@pytest.mark.parametrize(
    "value, dtype",
    [(3, torch.int32), (2**40, torch.int64), (1.5, torch.float32), (True, torch.bool)],
)
def test_python_scalars_keep_keras_dtypes(value, dtype):
    assert ops.convert_to_tensor(value).dtype == dtype
    assert ops.array(value).dtype == dtype


# --- ops.unique with `size` ------------------------------------------------


def test_unique_pads_values_with_zero_and_first_indices_with_one():
    x = np.array([3, 1, 2, 1], dtype="int32")
    values, index, counts = ops.unique(x, size=5, return_index=True, return_counts=True)
    assert values.tolist() == [1, 2, 3, 0, 0]
    assert index.tolist() == [1, 2, 0, 1, 1]
    assert counts.tolist() == [2, 1, 1, 0, 0]
    keras = _keras()
    expected = keras.ops.unique(x, size=5, return_index=True, return_counts=True)
    for got, want in zip((values, index, counts), expected):
        np.testing.assert_array_equal(got.cpu().numpy(), want.cpu().numpy())


def test_unique_pads_rows_along_an_axis():
    x = np.array([[1, 0], [0, 1], [1, 0], [2, 2], [0, 1]])
    values, index = ops.unique(x, axis=0, size=5, fill_value=-1, return_index=True)
    assert values.tolist() == [[0, 1], [1, 0], [2, 2], [-1, -1], [-1, -1]]
    assert index.tolist() == [1, 0, 3, 1, 1]


def test_unique_with_size_takes_symbolic_inputs():
    x = KerasTensor((2, 4))
    values, index = ops.unique(x, return_index=True, size=5)
    assert (values.shape, index.shape) == ((5,), (5,))
    values, index = ops.unique(x, return_index=True, axis=-1, size=6)
    assert (values.shape, index.shape) == ((2, 6), (6,))

    inputs = lamina.Input((4,), dtype="int32")
    model = lamina.Model(inputs, ops.unique(inputs, size=6))
    assert model(np.array([[3, 1, 1, 2]])).tolist() == [1, 2, 3, 0, 0, 0]


# --- shape errors on symbolic inputs are ValueErrors, as in Keras ----------


@pytest.mark.parametrize(
    "call",
    [
        lambda: ops.add(KerasTensor((2, 3)), KerasTensor((2, 3, 4))),
        lambda: ops.cross(KerasTensor((4, 3, 3)), KerasTensor((2, 3, 3))),
        lambda: ops.take_along_axis(
            KerasTensor((2, 3)), KerasTensor((1, 4), dtype="int32"), axis=0
        ),
        lambda: ops.trace(KerasTensor((2, 3, 4)), axis1=1, axis2=1),
    ],
)
def test_symbolic_shape_mismatch_is_a_value_error(call):
    with pytest.raises(
        ValueError, match="cannot be applied to symbolic inputs"
    ) as info:
        call()
    assert isinstance(info.value, RuntimeError)  # still what torch raised


def test_symbolic_index_out_of_range_is_a_value_error():
    with pytest.raises(ValueError, match=r"\(None, 5, 16\)") as info:
        ops.get_item(KerasTensor((None, 5, 16)), np.s_[:, 17, :])
    assert isinstance(info.value, IndexError)


def test_eager_shape_mismatch_keeps_torch_error():
    with pytest.raises(RuntimeError) as info:
        ops.add(np.ones((2, 3)), np.ones((2, 3, 4)))
    assert not isinstance(info.value, ValueError)


# --- small eager differences ---------------------------------------------


def test_get_item_refuses_two_ellipses():
    with pytest.raises(IndexError, match="single ellipsis"):
        ops.get_item(np.ones((2, 5, 16)), np.s_[..., 5, ...])
    with pytest.raises(ValueError):
        ops.get_item(KerasTensor((None, 5, 16)), np.s_[..., 5, ...])
    assert tuple(ops.get_item(np.ones((2, 5, 16)), np.s_[..., 5]).shape) == (2, 5)


def test_roll_applies_one_shift_to_every_axis():
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(
        ops.roll(x, 1, axis=[0, 1]).cpu().numpy(), np.roll(x, 1, axis=(0, 1))
    )
    assert ops.roll(KerasTensor((None, 3)), 1, axis=(0, 1)).shape == (None, 3)


def test_meshgrid_flattens_inputs_of_other_ranks():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(24.0).reshape(2, 3, 4)
    for indexing in ("xy", "ij"):
        got = ops.meshgrid(a, b, indexing=indexing)
        for g, e in zip(got, np.meshgrid(a, b, indexing=indexing)):
            np.testing.assert_array_equal(g.cpu().numpy(), e)
    grids = ops.meshgrid(KerasTensor((None, 3)), KerasTensor((2, 3, 4)), indexing="ij")
    assert [g.shape for g in grids] == [(None, 24), (None, 24)]


# --- ops' own symbolic rules (ops.operation.output_spec_rule) --------------


def _spec(fn, *args, **kwargs):
    rule = operation.output_spec_rule(fn)
    assert rule is not None
    return rule(*args, **kwargs)


def test_slice_rule_from_a_symbolic_start():
    x = KerasTensor((3, 3))
    start = KerasTensor((2,), dtype="int32")
    assert _spec(ops.slice, x, start, (-1, -1)).shape == (None, None)
    assert _spec(ops.slice, x, start, (2, -1)).shape == (2, None)
    assert _spec(ops.slice, x, (1, 1), (-1, -1)) is NotImplemented
    with pytest.raises(ValueError, match="start_indices"):
        _spec(ops.slice, x, KerasTensor((3,), dtype="int32"), (-1, -1))


def test_reshape_rule():
    x = KerasTensor((None, 20))
    shape = KerasTensor((2,), dtype="int32")
    assert _spec(ops.reshape, x, shape).shape == (None, None)
    scalar = KerasTensor((), dtype="int32")
    assert _spec(ops.reshape, x, (None, scalar)).shape == (None, None)
    assert _spec(ops.reshape, np.zeros((20,)), shape).shape == (None, None)
    assert _spec(ops.reshape, KerasTensor((None, 3)), (3, 2)).shape == (3, 2)
    assert _spec(ops.reshape, KerasTensor((None, 3)), (3, -1)) is NotImplemented
    with pytest.raises(ValueError, match="not a multiple"):
        _spec(ops.reshape, KerasTensor((None, 3)), (5,))


def test_unique_and_nonzero_rules():
    values, index, inverse, counts = _spec(
        ops.unique,
        KerasTensor((None, 3)),
        return_index=True,
        return_inverse=True,
        return_counts=True,
    )
    assert [values.shape, index.shape, inverse.shape, counts.shape] == [
        (None,),
        (None,),
        (None, 3),
        (None,),
    ]
    assert inverse.dtype == "int32"
    values, inverse = _spec(
        ops.unique, KerasTensor((2, 4)), axis=0, return_inverse=True
    )
    assert (values.shape, inverse.shape) == ((None, 4), (2,))
    indices = _spec(ops.nonzero, KerasTensor((None, 5, 6)))
    assert [i.shape for i in indices] == [(None,)] * 3


def test_op_decorator_takes_an_output_spec_rule():
    def rule(x):
        return KerasTensor((None,), dtype="float32")

    @operation.op(output_spec=rule)
    def flat(x):
        return torch.as_tensor(x).reshape(-1)

    assert operation.is_op(flat)
    assert operation.output_spec_rule(flat) is rule
    assert flat(np.ones((2, 3))).shape == (6,)
    assert operation.output_spec_rule(ops.add) is None


# --- ops.Function ----------------------------------------------------------


def test_function_refuses_inputs_of_another_shape():
    x1, x2 = KerasTensor((2, 3)), KerasTensor((2, 3))
    fn = lamina.Function([x1, x2], ops.add(x1, x2), name="f")
    with pytest.raises(ValueError, match="incompatible inputs.*(2, 3, 3)"):
        fn([np.ones((2, 3, 3)), np.ones((2, 3))])
    with pytest.raises(ValueError, match="incompatible inputs.*(4, 3)"):
        fn([np.ones((4, 3)), np.ones((2, 3))])
    assert tuple(fn([np.ones((2, 3)), np.ones((2, 3))]).shape) == (2, 3)


def test_function_passes_dict_inputs_by_key():
    a, b = lamina.Input((3,)), lamina.Input((2,))
    fn = lamina.Function({"b": b, "a": a}, ops.sum(a, -1) - ops.sum(b, -1))
    out = fn({"b": np.ones((1, 2)), "a": np.full((1, 3), 2.0)})
    assert out.tolist() == [4.0]


def test_digitize_refuses_bins_that_are_not_1d():
    with pytest.raises(ValueError, match="1-D `bins`"):
        ops.digitize(KerasTensor((2, 3)), KerasTensor((2, 3, 4)))
    with pytest.raises(ValueError, match="1-D `bins`"):
        ops.digitize(np.ones(3), np.ones((2, 2)))
    out = ops.digitize(np.array([0.5, 1.5]), np.array([0.0, 1.0, 2.0]))
    assert out.tolist() == [1, 2]


def test_inner_mismatch_names_the_last_dimension():
    with pytest.raises(ValueError, match="last dimension"):
        ops.inner(KerasTensor((5, 3)), KerasTensor((4,)))


def test_array_split_rule_on_an_axis_of_unknown_size():
    pieces = _spec(ops.array_split, KerasTensor((None, 4)), 3)
    assert [p.shape for p in pieces] == [(None, 4)] * 3
    pieces = _spec(ops.array_split, KerasTensor((5, None)), 2, axis=1)
    assert [p.shape for p in pieces] == [(5, None)] * 2
    assert _spec(ops.array_split, KerasTensor((5, 4)), 3) is NotImplemented
    pieces = _spec(ops.array_split, KerasTensor((None, 4)), [1, 3])
    assert [p.shape for p in pieces] == [(1, 4), (2, 4), (None, 4)]  # as `split`


def test_symbolic_slice_with_tensor_starts_and_size_minus_one_is_unknown():
    # The op's own output-spec rule (OpLayer consults it before probing).
    x = KerasTensor((3, 3))
    starts = KerasTensor((2,), dtype="int32")
    assert ops.slice(x, starts, (-1, -1)).shape == (None, None)
    assert ops.slice(x, (0, 1), (2, -1)).shape == (2, 2)


def test_symbolic_array_split_of_an_unknown_axis_has_unknown_pieces():
    pieces = ops.array_split(KerasTensor((None, 4)), 3)
    assert [piece.shape for piece in pieces] == [(None, 4)] * 3
