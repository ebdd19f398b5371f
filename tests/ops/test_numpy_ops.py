import numpy as np
import pytest
import torch

from lamina import ops

RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 4)).astype("float32")
B = RNG.normal(size=(3, 4)).astype("float32")
POS = RNG.uniform(0.5, 2.0, size=(3, 4)).astype("float32")
T3 = RNG.normal(size=(2, 3, 4)).astype("float32")


def np_of(t):
    assert isinstance(t, torch.Tensor), type(t)
    return t.detach().cpu().numpy()


def close(actual, expected, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np_of(actual), expected, rtol=rtol, atol=atol)


UNARY = [
    ("abs", A, np.abs),
    ("absolute", A, np.absolute),
    ("negative", A, np.negative),
    ("exp", A, np.exp),
    ("log", POS, np.log),
    ("log1p", POS, np.log1p),
    ("sqrt", POS, np.sqrt),
    ("square", A, np.square),
    ("sign", A, np.sign),
    ("sin", A, np.sin),
    ("cos", A, np.cos),
    ("tanh", A, np.tanh),
    ("floor", A * 3, np.floor),
    ("ceil", A * 3, np.ceil),
    ("round", A * 3, np.round),
    ("isnan", np.array([1.0, np.nan, np.inf]), np.isnan),
    ("isinf", np.array([1.0, np.nan, -np.inf]), np.isinf),
    ("isfinite", np.array([1.0, np.nan, np.inf]), np.isfinite),
    ("logical_not", np.array([0.0, 2.0]), np.logical_not),
    ("nan_to_num", np.array([np.nan, 1.0], "float32"), np.nan_to_num),
    ("tril", A, np.tril),
    ("triu", A, np.triu),
    ("diag", A, np.diag),
    ("diag", A[0], np.diag),
    ("transpose", T3, np.transpose),
    ("flip", T3, np.flip),
    ("trace", A, np.trace),
]


@pytest.mark.parametrize("name, x, reference", UNARY, ids=[u[0] for u in UNARY])
def test_unary_op_matches_numpy(name, x, reference):
    close(getattr(ops, name)(x), reference(x))


BINARY = [
    ("add", np.add),
    ("subtract", np.subtract),
    ("multiply", np.multiply),
    ("divide", np.divide),
    ("true_divide", np.true_divide),
    ("floor_divide", np.floor_divide),
    ("mod", np.mod),
    ("maximum", np.maximum),
    ("minimum", np.minimum),
    ("equal", np.equal),
    ("not_equal", np.not_equal),
    ("greater", np.greater),
    ("greater_equal", np.greater_equal),
    ("less", np.less),
    ("less_equal", np.less_equal),
    ("logical_and", np.logical_and),
    ("logical_or", np.logical_or),
]


@pytest.mark.parametrize("name, reference", BINARY, ids=[b[0] for b in BINARY])
def test_binary_op_matches_numpy_with_broadcasting(name, reference):
    fn = getattr(ops, name)
    b_row = B[:1].round(1)
    close(fn(A, B), reference(A, B))
    close(fn(torch.from_numpy(A), b_row), reference(A, b_row))
    close(fn(A, 0.5), reference(A, np.float32(0.5)))
    close(fn(0.5, torch.from_numpy(A)), reference(np.float32(0.5), A))


def test_power_matches_numpy():
    close(ops.power(POS, B), np.power(POS, B), rtol=1e-4)
    close(ops.power(2, torch.tensor([1, 2, 3])), [2, 4, 8])


REDUCTIONS = ["sum", "mean", "max", "min", "prod", "std", "var", "all", "any"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), [1]])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_matches_numpy(name, axis, keepdims):
    reference = getattr(np, name)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    expected = reference(T3, axis=np_axis, keepdims=keepdims)
    result = getattr(ops, name)(T3, axis=axis, keepdims=keepdims)
    assert tuple(result.shape) == expected.shape
    close(result, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_arg_reductions_match_numpy_and_return_int32(name, axis, keepdims):
    result = getattr(ops, name)(T3, axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(T3, axis=axis, keepdims=keepdims)
    assert result.dtype == torch.int32
    np.testing.assert_array_equal(np_of(result), expected)


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_sorting_and_scans_match_numpy(axis):
    np.testing.assert_array_equal(
        np_of(ops.sort(T3, axis=axis)), np.sort(T3, axis=axis)
    )
    np.testing.assert_array_equal(
        np_of(ops.argsort(T3, axis=axis)), np.argsort(T3, axis=axis, kind="stable")
    )
    close(ops.cumsum(T3, axis=axis), np.cumsum(T3, axis=axis), rtol=1e-5)


def test_max_and_min_respect_initial():
    close(ops.max(A, initial=10.0), 10.0)
    close(ops.min(A, axis=0, initial=-10.0), np.full(4, -10.0))


def test_count_nonzero_average_and_clip():
    x = np.array([[0, 1, 2], [0, 0, 3]])
    count = ops.count_nonzero(x, axis=1)
    assert count.dtype == torch.int32
    np.testing.assert_array_equal(np_of(count), [2, 1])
    w = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    close(ops.average(A, axis=1, weights=w), np.average(A, axis=1, weights=w))
    close(ops.average(A, weights=POS), np.average(A, weights=POS))
    close(ops.average(A, axis=0), np.average(A, axis=0))
    close(ops.clip(A, -0.5, 0.5), np.clip(A, -0.5, 0.5))
    close(ops.clip(A, np.zeros(4), 0.1), np.clip(A, np.zeros(4), 0.1))


@pytest.mark.parametrize(
    "name, args, kwargs, reference",
    [
        ("reshape", ((4, 3),), {}, lambda x: x.reshape(4, 3)),
        ("reshape", ((-1,),), {}, lambda x: x.reshape(-1)),
        ("transpose", (), {"axes": (1, 0)}, lambda x: x.T),
        ("expand_dims", (0,), {}, lambda x: x[None]),
        ("expand_dims", ((0, -1),), {}, lambda x: np.expand_dims(x, (0, -1))),
        ("tile", ((2, 1),), {}, lambda x: np.tile(x, (2, 1))),
        ("repeat", (2,), {"axis": 1}, lambda x: np.repeat(x, 2, axis=1)),
        ("repeat", (2,), {}, lambda x: np.repeat(x, 2)),
        ("roll", (1,), {"axis": 0}, lambda x: np.roll(x, 1, axis=0)),
        ("roll", (5,), {}, lambda x: np.roll(x, 5)),
        ("flip", (), {"axis": 1}, lambda x: np.flip(x, 1)),
        ("take", ([2, 0, -1],), {"axis": 1}, lambda x: np.take(x, [2, 0, -1], axis=1)),
        ("take", ([[1, 5]],), {}, lambda x: np.take(x, [[1, 5]])),
        ("broadcast_to", ((2, 3, 4),), {}, lambda x: np.broadcast_to(x, (2, 3, 4))),
        ("tril", (), {"k": 1}, lambda x: np.tril(x, 1)),
        ("triu", (), {"k": -1}, lambda x: np.triu(x, -1)),
        ("diag", (), {"k": 1}, lambda x: np.diag(x, 1)),
        ("trace", (), {"offset": 1}, lambda x: np.trace(x, 1)),
    ],
)
def test_shape_op_matches_numpy(name, args, kwargs, reference):
    close(getattr(ops, name)(A, *args, **kwargs), reference(A))


def test_squeeze_removes_only_unit_axes():
    x = np.zeros((1, 3, 1), "float32")
    assert tuple(ops.squeeze(x).shape) == (3,)
    assert tuple(ops.squeeze(x, axis=-1).shape) == (1, 3)
    assert tuple(ops.squeeze(x, axis=(0, 2)).shape) == (3,)
    with pytest.raises(
        ValueError, match=r"ops.squeeze can only remove axes of size 1.*axis=1"
    ):
        ops.squeeze(x, axis=1)


def test_concatenate_stack_split():
    close(ops.concatenate([A, B], axis=1), np.concatenate([A, B], axis=1))
    close(ops.concatenate([A, B], axis=None), np.concatenate([A, B], axis=None))
    close(ops.stack([A, B], axis=-1), np.stack([A, B], axis=-1))
    parts = ops.split(A, 2, axis=1)
    assert isinstance(parts, list) and len(parts) == 2
    for part, expected in zip(parts, np.split(A, 2, axis=1), strict=True):
        close(part, expected)
    for part, expected in zip(
        ops.split(A, [1, 3], axis=1), np.split(A, [1, 3], axis=1), strict=True
    ):
        close(part, expected)
    with pytest.raises(
        ValueError, match="ops.split cannot cut axis 1 of size 4 into 3"
    ):
        ops.split(A, 3, axis=1)


def test_concatenate_promotes_dtypes_and_explains_shape_mismatch():
    out = ops.concatenate([np.array([1, 2], "int32"), np.array([0.5], "float32")])
    assert out.dtype == torch.float32
    with pytest.raises(
        ValueError, match=r"shapes match except on axis=0.*\(3, 4\), \(2, 3\)"
    ):
        ops.concatenate([A, A[:2, :3]])


def test_take_along_axis_matches_numpy_including_negative_indices():
    idx = np.argsort(A, axis=1)
    close(ops.take_along_axis(A, idx, axis=1), np.take_along_axis(A, idx, axis=1))
    close(ops.take_along_axis(A, np.array([[-1]]), axis=1), A[:, -1:])
    flat = np.array([0, 11, 5])
    close(ops.take_along_axis(A, flat), np.take_along_axis(A, flat, axis=None))


def test_where_selects_and_finds_nonzero():
    cond = A > 0
    close(ops.where(cond, A, 0.0), np.where(cond, A, 0.0))
    close(ops.where(cond, 1.0, -1.0), np.where(cond, 1.0, -1.0))
    rows, cols = ops.where(np.array([[0, 1], [1, 0]]))
    np.testing.assert_array_equal(np_of(rows), [0, 1])
    np.testing.assert_array_equal(np_of(cols), [1, 0])
    with pytest.raises(ValueError, match="both `x1` and `x2`, or neither"):
        ops.where(cond, A)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("pad_width", [1, (1, 2), ((0, 1), (2, 3))])
def test_pad_matches_numpy(mode, pad_width):
    close(ops.pad(A, pad_width, mode=mode), np.pad(A, pad_width, mode=mode))


def test_pad_constant_values_and_errors():
    close(ops.pad(A, 1, constant_values=7.0), np.pad(A, 1, constant_values=7.0))
    with pytest.raises(ValueError, match="only with mode='constant'"):
        ops.pad(A, 1, mode="edge", constant_values=1.0)
    with pytest.raises(ValueError, match="ops.pad does not know mode='median'"):
        ops.pad(A, 1, mode="median")


@pytest.mark.parametrize(
    "shape1, shape2",
    [
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((2, 3), (3, 4)),
        ((5, 2, 3), (3, 4)),
        ((2, 3), (5, 3, 4)),
        ((), (2, 2)),
    ],
)
def test_dot_follows_numpy_semantics(shape1, shape2):
    x1 = RNG.normal(size=shape1).astype("float32")
    x2 = RNG.normal(size=shape2).astype("float32")
    close(ops.dot(x1, x2), np.dot(x1, x2), rtol=1e-4, atol=1e-5)


def test_matmul_tensordot_einsum_outer_match_numpy():
    x = RNG.normal(size=(5, 2, 3)).astype("float32")
    y = RNG.normal(size=(5, 3, 4)).astype("float32")
    close(ops.matmul(x, y), np.matmul(x, y), rtol=1e-4, atol=1e-5)
    close(ops.matmul(np.arange(3), y[0]), np.matmul(np.arange(3), y[0]), rtol=1e-4)
    close(
        ops.tensordot(x, y, axes=([0, 2], [0, 1])),
        np.tensordot(x, y, axes=([0, 2], [0, 1])),
        rtol=1e-4,
        atol=1e-5,
    )
    close(
        ops.tensordot(A, B.T, axes=1),
        np.tensordot(A, B.T, axes=1),
        rtol=1e-4,
        atol=1e-5,
    )
    close(
        ops.einsum("bij,bjk->bik", x, y),
        np.einsum("bij,bjk->bik", x, y),
        rtol=1e-4,
        atol=1e-5,
    )
    close(ops.outer(A[0], B[0]), np.outer(A[0], B[0]))


def test_matmul_promotes_mixed_dtypes_and_names_bad_shapes():
    out = ops.matmul(np.ones((2, 3), "int32"), np.ones((3, 1), "float32"))
    assert out.dtype == torch.float32
    close(out, np.full((2, 1), 3.0))
    with pytest.raises(
        ValueError, match=r"ops.matmul got incompatible shapes \(2, 3\) and \(2, 3\)"
    ):
        ops.matmul(np.ones((2, 3), "float32"), np.ones((2, 3), "float32"))


def test_creation_ops_shapes_values_and_default_dtypes():
    assert ops.ones((2, 3)).dtype == torch.float32
    close(ops.zeros(3), np.zeros(3))
    close(ops.full((2, 2), 7), np.full((2, 2), 7.0))
    assert ops.full((2,), 7).dtype == torch.float32
    close(ops.full((2, 3), np.array([1.0, 2.0, 3.0])), np.tile([1.0, 2.0, 3.0], (2, 1)))
    x = torch.tensor([1, 2], dtype=torch.int32)
    assert ops.zeros_like(x).dtype == torch.int32
    assert ops.ones_like(x, dtype="float16").dtype == torch.float16
    assert ops.full_like(x, 1.5).tolist() == [1, 1]
    close(ops.eye(3, 4, k=1), np.eye(3, 4, k=1))
    close(ops.eye(2), np.eye(2))
    assert ops.arange(5).dtype == torch.int32
    assert ops.arange(0, 1, 0.25).dtype == torch.float32
    close(ops.arange(2, 10, 3), np.arange(2, 10, 3))
    close(ops.linspace(0, 1, 5), np.linspace(0, 1, 5))
    close(ops.linspace(0, 1, 4, endpoint=False), np.linspace(0, 1, 4, endpoint=False))
    samples, step = ops.linspace(0.0, 2.0, 5, retstep=True)
    assert step == pytest.approx(0.5)
    start, stop = np.array([0.0, 1.0]), np.array([1.0, 3.0])
    close(ops.linspace(start, stop, 3, axis=-1), np.linspace(start, stop, 3, axis=-1))
    mx, my = ops.meshgrid(np.arange(3), np.arange(2))
    ex, ey = np.meshgrid(np.arange(3), np.arange(2))
    np.testing.assert_array_equal(np_of(mx), ex)
    np.testing.assert_array_equal(np_of(my), ey)


# dtype rules that Keras users notice (Keras 3 differs from plain torch here).
INT = np.array([[1, 2], [3, 4]], "int32")
BOOL = np.array([True, False, True])


@pytest.mark.parametrize(
    "fn, expected",
    [
        (lambda: ops.mean(INT), torch.float32),
        (lambda: ops.var(INT), torch.float32),
        (lambda: ops.std(INT, axis=0), torch.float32),
        (lambda: ops.divide(INT, INT), torch.float32),
        (lambda: ops.divide(3, 2), torch.float32),
        (lambda: ops.sqrt(INT), torch.float32),
        (lambda: ops.exp(INT), torch.float32),
        (lambda: ops.floor(INT), torch.float32),
        (lambda: ops.sum(INT), torch.int32),
        (lambda: ops.sum(BOOL), torch.int32),
        (lambda: ops.sum(np.array([1, 2], "int8")), torch.int32),
        (lambda: ops.sum(np.array([1, 2], "int64")), torch.int64),
        (lambda: ops.prod(BOOL), torch.int32),
        (lambda: ops.cumsum(BOOL), torch.int32),
        (lambda: ops.cumsum(np.array([1, 2], "int8")), torch.int8),
        (lambda: ops.square(BOOL), torch.int32),
        (lambda: ops.argmax(BOOL), torch.int32),
        (lambda: ops.argsort(INT), torch.int32),
        (lambda: ops.add(INT, 2), torch.int32),
        (lambda: ops.add(INT, 2.5), torch.float32),
        (lambda: ops.add(np.array([1, 2], "int8"), 1000), torch.int8),
        (lambda: ops.add(1, 2), torch.int32),
        (lambda: ops.add(1, 2.0), torch.float32),
        (lambda: ops.multiply(np.ones(2, "float16"), 2.0), torch.float16),
        (lambda: ops.add(np.ones(2, "float16"), np.ones(2, "float32")), torch.float32),
        (lambda: ops.floor_divide(INT, 2), torch.int32),
        (lambda: ops.add(np.ones(2), 1), torch.float32),
    ],
)
def test_result_dtypes_follow_keras(fn, expected):
    assert fn().dtype == expected


@pytest.mark.parametrize(
    "call",
    [
        lambda x: ops.sum(x, axis=2),
        lambda x: ops.mean(x, axis=-3),
        lambda x: ops.max(x, axis=(0, 5)),
        lambda x: ops.argmax(x, axis=2),
        lambda x: ops.cumsum(x, axis=2),
        lambda x: ops.concatenate([x, x], axis=2),
        lambda x: ops.squeeze(x, axis=2),
        lambda x: ops.sort(x, axis=2),
        lambda x: ops.flip(x, axis=2),
        lambda x: ops.take(x, [0], axis=2),
        lambda x: ops.softmax(x, axis=(0, 2)),
        lambda x: ops.logsumexp(x, axis=2),
    ],
)
def test_bad_axis_raises_value_error_naming_op_and_value(call):
    with pytest.raises(ValueError, match=r"ops\.\w+ got axis=.*(2|-3|5).*rank 2"):
        call(A)


def test_expand_dims_axis_error_speaks_of_the_result_rank():
    with pytest.raises(
        ValueError, match=r"ops.expand_dims got axis=4.*the result of rank 3"
    ):
        ops.expand_dims(A, 4)


def test_bad_axis_type_and_repeated_axis_are_explained():
    with pytest.raises(
        TypeError, match=r"ops.sum expects `axis` to be an int.*axis='0'"
    ):
        ops.sum(A, axis="0")
    with pytest.raises(
        ValueError, match=r"ops.sum got axis=\(0, -2\) with a repeated axis"
    ):
        ops.sum(A, axis=(0, -2))
    with pytest.raises(ValueError, match="0-d tensor, which has no axes"):
        ops.mean(np.float32(1.0), axis=(0,))


def test_reshape_and_transpose_errors_name_the_shapes():
    with pytest.raises(
        ValueError,
        match=r"ops.reshape cannot reshape a tensor of shape \(3, 4\).*newshape=\(5, 2\)",
    ):
        ops.reshape(A, (5, 2))
    with pytest.raises(
        ValueError, match=r"ops.transpose expects `axes` to be a permutation"
    ):
        ops.transpose(A, (0, 0))


def test_non_tensor_inputs_become_tensors_on_the_lamina_device():
    from lamina.backend import get_device

    out = ops.add([1.0, 2.0], np.array([3.0, 4.0]))
    assert isinstance(out, torch.Tensor)
    assert out.device.type == get_device().type
    assert out.dtype == torch.float32


def test_integer_rounding_with_negative_decimals():
    np.testing.assert_array_equal(
        np_of(ops.round(np.array([1234, 1250]), -2)), [1200, 1200]
    )
    close(
        ops.round(np.array([1.25, 2.675], "float32"), 1),
        np.round(np.array([1.25, 2.675], "float32"), 1),
    )
