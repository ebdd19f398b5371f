import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

import lamina  # noqa: E402
from lamina import ops  # noqa: E402
from lamina.backend.keras_tensor import KerasTensor  # noqa: E402

# Values are read with .numpy(): keep lamina on the CPU (see conftest.py).
pytestmark = pytest.mark.usefixtures("values_on_cpu")

RNG = np.random.default_rng(7)
A = RNG.normal(size=(3, 4)).astype("float32")
B = RNG.normal(size=(3, 4)).astype("float32")
P = RNG.uniform(0.1, 0.9, size=(3, 4)).astype("float32")
BIG = RNG.uniform(1.1, 4.0, size=(3, 4)).astype("float32")
T3 = RNG.normal(size=(2, 3, 4)).astype("float32")
SQ = RNG.normal(size=(3, 3)).astype("float32")
V = np.array([1.0, -2.0, 3.0, 0.5], "float32")
I32 = np.array([[1, -2, 3], [4, 5, -6]], "int32")
POS = np.array([[12, 18, 7], [4, 9, 30]], "int32")
NAN = np.array(
    [[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [2.0, 5.0, -1.0]], "float32"
)
BOOL = np.array([[True, False, True], [False, False, True]])
CPLX = np.array([1 + 2j, -3 - 1j, 0.5j], "complex64")
V3A = RNG.normal(size=(4, 3)).astype("float32")
V3B = RNG.normal(size=(4, 3)).astype("float32")

CASES = [
    # 1. Element-wise math
    ("arccos", (P,), {}),
    ("arcsin", (P,), {}),
    ("arctan", (A,), {}),
    ("arctan2", (A, B), {}),
    ("arctan2", (I32, 2), {}),
    ("arccosh", (BIG,), {}),
    ("arcsinh", (A,), {}),
    ("arctanh", (P,), {}),
    ("sinh", (A,), {}),
    ("cosh", (I32,), {}),
    ("tan", (A,), {}),
    ("cbrt", (A,), {}),
    ("cbrt", (I32,), {}),
    ("exp2", (I32,), {}),
    ("expm1", (A,), {}),
    ("log2", (BIG,), {}),
    ("log10", (POS,), {}),
    ("logaddexp", (A, B), {}),
    ("logaddexp2", (A, B), {}),
    ("hypot", (A, B), {}),
    ("hypot", (I32, I32), {}),
    ("reciprocal", (BIG,), {}),
    ("trunc", (A * 3,), {}),
    ("trunc", (I32,), {}),
    ("fabs", (I32,), {}),
    ("fabs", (A,), {}),
    ("deg2rad", (A * 90,), {}),
    ("rad2deg", (A,), {}),
    ("sinc", (A,), {}),
    ("i0", (A,), {}),
    ("signbit", (A,), {}),
    ("fmod", (I32, 4), {}),
    ("fmod", (A * 5, B), {}),
    ("fmax", (NAN, NAN.T), {}),
    ("fmin", (NAN, 1.5), {}),
    ("heaviside", (np.array([-1.5, 0.0, 2.0], "float32"), 0.5), {}),
    ("heaviside", (I32, I32), {}),
    ("nextafter", (A, B), {}),
    ("ldexp", (A[0, :3], I32[0]), {}),
    ("divide_no_nan", (A, np.where(B > 0, B, 0).astype("float32")), {}),
    ("divide_no_nan", (I32, np.array([0, 2, 3], "int32")), {}),
    ("gcd", (POS, 6), {}),
    ("lcm", (POS, POS[::-1]), {}),
    ("logical_xor", (A > 0, B > 0), {}),
    # 2. Comparisons, complex numbers, bitwise
    ("isclose", (A, A + 1e-7), {}),
    ("isclose", (NAN, NAN), {"equal_nan": True}),
    ("isclose", (I32, 3), {}),
    ("allclose", (A, A + 1e-3), {}),
    ("allclose", (A, A + 1e-7), {}),
    ("isin", (I32, np.array([3, 4, -6], "int32")), {}),
    ("isin", (I32, np.array([3, 4], "int32")), {"invert": True}),
    ("isposinf", (np.array([np.inf, -np.inf, 1.0], "float32"),), {}),
    ("isneginf", (np.array([np.inf, -np.inf, 1.0], "float32"),), {}),
    ("isreal", (A,), {}),
    ("real", (CPLX,), {}),
    ("imag", (CPLX,), {}),
    ("angle", (CPLX,), {}),
    ("angle", (A,), {}),
    ("conj", (CPLX,), {}),
    ("conjugate", (CPLX,), {}),
    ("bitwise_and", (POS, 5), {}),
    ("bitwise_or", (POS, I32), {}),
    ("bitwise_xor", (POS, 7), {}),
    ("bitwise_invert", (I32,), {}),
    ("bitwise_not", (BOOL,), {}),
    ("bitwise_left_shift", (POS, 2), {}),
    ("left_shift", (POS, np.array([1, 2, 3], "int32")), {}),
    ("bitwise_right_shift", (I32, 1), {}),
    ("right_shift", (POS, 2), {}),
    # 3. Layout, joining and splitting
    ("append", (A, B), {}),
    ("append", (A, B), {"axis": 0}),
    ("moveaxis", (T3, 0, -1), {}),
    ("moveaxis", (T3, (0, 1), (2, 0)), {}),
    ("swapaxes", (T3, 0, 2), {}),
    ("ravel", (T3,), {}),
    ("hstack", ([A, B],), {}),
    ("vstack", ([A, B[0]],), {}),
    ("dstack", ([A, B],), {}),
    ("hsplit", (A, 2), {}),
    (
        "vsplit",
        (
            T3,
            [1],
        ),
        {},
    ),
    ("dsplit", (T3, 2), {}),
    ("array_split", (A, 3), {"axis": 1}),
    ("fliplr", (A,), {}),
    ("flipud", (T3,), {}),
    ("rot90", (A,), {}),
    ("rot90", (T3,), {"k": 3, "axes": (1, 2)}),
    ("diagonal", (T3,), {"offset": 1, "axis1": 1, "axis2": 2}),
    ("diagonal", (A,), {}),
    ("diagflat", (V,), {"k": -1}),
    ("diff", (A,), {}),
    ("diff", (I32,), {"n": 2, "axis": 1}),
    ("tri", (3, 4), {"k": 1}),
    ("identity", (3,), {}),
    ("copy", (I32,), {}),
    ("array", (I32,), {"dtype": "float32"}),
    ("array", ([[1, 2], [3, 4]],), {}),
    ("size", (T3,), {}),
    ("nonzero", (I32 > 0,), {}),
    ("select", ([A > 0.5, A < -0.5], [A, B]), {"default": 0.0}),
    ("get_item", (T3, (slice(None), 1)), {}),
    ("view", (I32,), {"dtype": "float32"}),
    ("unravel_index", (np.array([1, 7, 11], "int32"), (3, 4)), {}),
    # 4. Reductions and statistics
    ("amax", (T3,), {"axis": (0, 2)}),
    ("amin", (I32,), {"axis": 1, "keepdims": True}),
    ("amax", (A,), {}),
    ("cumprod", (P,), {"axis": 1}),
    ("cumprod", (BOOL,), {}),
    ("ptp", (T3,), {"axis": 1}),
    ("ptp", (I32,), {}),
    ("median", (T3,), {"axis": -1}),
    ("median", (I32,), {}),
    ("median", (T3,), {"axis": (0, 2), "keepdims": True}),
    ("quantile", (T3, 0.3), {"axis": 1}),
    ("quantile", (A, np.array([0.1, 0.5, 0.9], "float32")), {"axis": 0}),
    ("quantile", (A, 0.4), {"method": "nearest"}),
    ("quantile", (A, 0.4), {"method": "midpoint", "axis": 1, "keepdims": True}),
    ("percentile", (A, 75.0), {"axis": 1}),
    ("percentile", (I32, [10.0, 50.0]), {}),
    ("nansum", (NAN,), {}),
    ("nansum", (NAN,), {"axis": 1, "keepdims": True}),
    ("nansum", (BOOL,), {"axis": 0}),
    ("nanprod", (NAN,), {"axis": 0}),
    ("nanmax", (NAN,), {"axis": 1}),
    ("nanmin", (NAN,), {"axis": 0}),
    ("nanmax", (I32,), {}),
    ("nanmean", (NAN,), {"axis": 1}),
    ("nanmean", (I32,), {}),
    ("nanvar", (NAN,), {"axis": 1}),
    ("nanstd", (NAN,), {}),
    ("nanargmax", (NAN,), {"axis": 1}),
    ("nanargmin", (NAN,), {"axis": 1, "keepdims": True}),
    ("nanargmin", (NAN,), {}),
    ("nancumsum", (NAN,), {"axis": 1}),
    ("nancumprod", (NAN,), {}),
    ("nanmedian", (NAN,), {"axis": 1}),
    ("nanquantile", (NAN, 0.25), {"axis": 1}),
    ("nanpercentile", (NAN, 90.0), {"axis": 1}),
    ("corrcoef", (A,), {}),
    ("corrcoef", (I32,), {}),
    ("histogram", (V,), {"bins": 4}),
    ("histogram", (A.ravel(),), {"bins": 3, "range": (-1.0, 1.0)}),
    ("bincount", (np.array([0, 1, 1, 3], "int32"),), {}),
    ("bincount", (np.array([0, 1, 1, 3], "int32"),), {"minlength": 6}),
    ("bincount", (np.array([0, 1, 1, 3], "int32"),), {"weights": V}),
    ("digitize", (A, np.array([-1.0, 0.0, 1.0], "float32")), {}),
    ("searchsorted", (np.array([1.0, 2.0, 3.0], "float32"), A), {}),
    (
        "searchsorted",
        (np.array([1, 2, 2, 3], "int32"), np.array([2, 0], "int32")),
        {"side": "right"},
    ),
    ("argpartition", (V, 2), {}),
    ("unique", (np.array([3, 1, 3, 2, 1], "int32"),), {}),
    ("unique", (np.array([3, 1, 3, 2, 1], "int32"),), {"return_counts": True}),
    ("unique", (np.array([3, 1, 3, 2, 1], "int32"),), {"size": 5, "fill_value": 0}),
    # 5. Products and linear algebra
    ("inner", (A, B), {}),
    ("inner", (I32, I32), {}),
    ("vdot", (V, V[::-1]), {}),
    ("vdot", (I32[0], I32[1]), {}),
    ("kron", (A[:2, :2], I32), {}),
    ("cross", (V3A, V3B), {"axis": -1}),
    ("cross", (V3A.T, V3B.T), {"axis": 0}),
    ("correlate", (V, V[:2]), {}),
    ("correlate", (V, V[:3]), {"mode": "same"}),
    ("correlate", (V, V[:2]), {"mode": "full"}),
    ("trapezoid", (A,), {}),
    ("trapezoid", (A,), {"x": V, "axis": 1}),
    ("trapezoid", (A,), {"dx": 0.5, "axis": 0}),
    ("vander", (V,), {}),
    ("vander", (I32[0],), {"N": 4, "increasing": True}),
    ("slogdet", (SQ,), {}),
    # 6. Creation and windows
    ("logspace", (0.0, 2.0, 5), {}),
    ("logspace", (0, 3, 4), {"endpoint": False, "base": 2}),
    ("geomspace", (1.0, 1000.0, 4), {}),
    ("geomspace", (-2.0, -32.0, 5), {}),
    ("bartlett", (5,), {}),
    ("blackman", (6,), {}),
    ("hamming", (7,), {}),
    ("hanning", (4,), {}),
    ("kaiser", (5, 8.6), {}),
]

# Keras's torch backend returns int64 here; the Keras symbolic spec (which
# lamina follows) says int32. Values agree.
DTYPE_EXCEPTIONS = {"unique", "size"}
# Orders that NumPy leaves unspecified: checked by property elsewhere.
VALUE_EXCEPTIONS = {"argpartition"}


def _flatten(result):
    if isinstance(result, (list, tuple)):
        return [r for item in result for r in _flatten(item)]
    return [result]


def _to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().resolve_conj().numpy()
    return np.asarray(x)


@pytest.mark.parametrize(
    "name, args, kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_same_values_and_dtypes_as_keras(name, args, kwargs):
    ours = getattr(ops, name)(*args, **kwargs)
    theirs = getattr(keras.ops, name)(*args, **kwargs)
    if name == "nonzero":  # Keras's torch backend stacks the per-axis indices
        ours = torch.stack(ours)
    ours, theirs = _flatten(ours), _flatten(theirs)
    assert len(ours) == len(theirs)
    for mine, ref in zip(ours, theirs, strict=True):
        ref_np = _to_numpy(ref)
        mine_np = _to_numpy(mine)
        assert mine_np.shape == ref_np.shape
        if name not in VALUE_EXCEPTIONS:
            np.testing.assert_allclose(mine_np, ref_np, rtol=1e-5, atol=1e-5)
        if name not in DTYPE_EXCEPTIONS:
            assert ops.dtype(mine) == keras.backend.standardize_dtype(ref.dtype)


# NumPy references for what Keras's torch backend does not cover.


def test_array_split_at_indices_and_unequal_sections_match_numpy():
    for ours, ref in zip(ops.array_split(V, [1, 3]), np.array_split(V, [1, 3])):
        np.testing.assert_array_equal(ours.numpy(), ref)
    parts = ops.array_split(np.arange(7), 3)
    assert [p.tolist() for p in parts] == [[0, 1, 2], [3, 4], [5, 6]]


def test_vdot_flattens_and_conjugates_like_numpy():
    np.testing.assert_allclose(ops.vdot(A, B).numpy(), np.vdot(A, B), rtol=1e-5)
    np.testing.assert_allclose(
        ops.vdot(CPLX, CPLX[::-1]).numpy(), np.vdot(CPLX, CPLX[::-1])
    )
    assert ops.vdot(I32, I32).item() == np.vdot(I32, I32)


def test_cross_default_axes_and_two_vectors_match_numpy():
    np.testing.assert_allclose(
        ops.cross(V3A, V3B).numpy(), np.cross(V3A, V3B), rtol=1e-5
    )
    two, padded = V3A[:, :2], np.pad(V3A[:, :2], ((0, 0), (0, 1)))
    np.testing.assert_allclose(
        ops.cross(two, V3B).numpy(), np.cross(padded, V3B), rtol=1e-5
    )
    z = two[:, 0] * V3B[:, 1] - two[:, 1] * V3B[:, 0]
    np.testing.assert_allclose(ops.cross(two, V3B[:, :2]).numpy(), z, rtol=1e-5)
    np.testing.assert_allclose(
        ops.cross(V3A.T, V3B, axisa=0, axisc=0).numpy(),
        np.cross(V3A.T, V3B, axisa=0, axisc=0),
        rtol=1e-5,
    )


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
def test_correlate_matches_numpy_for_either_longer_input(mode):
    short = np.array([0.5, 1.0, -1.0], "float32")
    for x1, x2 in ((V, short), (short, V)):
        np.testing.assert_allclose(
            ops.correlate(x1, x2, mode=mode).numpy(),
            np.correlate(x1, x2, mode=mode),
            rtol=1e-5,
            atol=1e-6,
        )


def test_argpartition_puts_the_kth_element_in_place():
    x = RNG.normal(size=(4, 9)).astype("float32")
    for kth in (0, 4, 8):
        index = ops.argpartition(x, kth, axis=1).numpy()
        assert index.dtype == np.int32
        parted = np.take_along_axis(x, index, axis=1)
        np.testing.assert_array_equal(parted[:, kth], np.sort(x, axis=1)[:, kth])
        assert (parted[:, :kth] <= parted[:, kth : kth + 1]).all()
        assert (parted[:, kth + 1 :] >= parted[:, kth : kth + 1]).all()


def test_unique_with_index_inverse_counts_and_axis_matches_numpy():
    x = np.array([3, 1, 3, 2, 1, 5], "int32")
    values, index, inverse, counts = ops.unique(
        x, return_index=True, return_inverse=True, return_counts=True
    )
    ref = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for mine, theirs in zip((values, index, inverse, counts), ref):
        np.testing.assert_array_equal(mine.numpy(), theirs)
    assert [t.dtype for t in (index, inverse, counts)] == [torch.int32] * 3
    rows = np.array([[1, 2], [0, 1], [1, 2]], "int32")
    np.testing.assert_array_equal(
        ops.unique(rows, axis=0).numpy(), np.unique(rows, axis=0)
    )
    assert ops.unique(x, size=2).tolist() == [1, 2]


def test_histogram_matches_numpy_counts_and_edges():
    x = RNG.normal(size=50).astype("float32")
    for kwargs in ({}, {"bins": 7}, {"bins": 4, "range": (-1.0, 2.0)}):
        counts, edges = ops.histogram(x, **kwargs)
        ref_counts, ref_edges = np.histogram(x, **kwargs)
        np.testing.assert_array_equal(counts.numpy(), ref_counts)
        np.testing.assert_allclose(edges.numpy(), ref_edges, rtol=1e-5, atol=1e-6)
    counts, edges = ops.histogram(np.ones(3, "float32"), bins=2)
    np.testing.assert_allclose(edges.numpy(), [0.5, 1.0, 1.5])
    assert counts.tolist() == [0.0, 3.0]


def test_bincount_of_rows_shares_one_length():
    x = np.array([[0, 1, 1], [3, 0, 0]], "int32")
    assert ops.bincount(x).tolist() == [[1, 2, 0, 0], [2, 0, 0, 1]]


def test_geomspace_logspace_and_creation_helpers_match_numpy():
    np.testing.assert_allclose(
        ops.geomspace(2.0, 162.0, 5, endpoint=False).numpy(),
        np.geomspace(2.0, 162.0, 5, endpoint=False),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        ops.logspace([0.0, 1.0], [2.0, 3.0], 3, axis=1).numpy(),
        np.logspace([0.0, 1.0], [2.0, 3.0], 3, axis=1),
        rtol=1e-5,
    )
    assert ops.empty((2, 3)).shape == (2, 3) and ops.empty((2,)).dtype == torch.float32
    assert (
        ops.empty_like(I32).shape == (2, 3) and ops.empty_like(I32).dtype == torch.int32
    )
    assert ops.ndim(T3) == 3
    assert ops.bartlett(0).shape == (0,) and ops.hamming(1).tolist() == [1.0]


def test_nan_reductions_of_all_nan_slices_and_keepdims_match_numpy():
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        refs = {
            "nanmax": np.nanmax(NAN, axis=1, keepdims=True),
            "nanmean": np.nanmean(NAN, axis=1, keepdims=True),
            "nanvar": np.nanvar(NAN, axis=1, keepdims=True),
            "nanmedian": np.nanmedian(NAN, axis=1, keepdims=True),
        }
    for name, ref in refs.items():
        np.testing.assert_allclose(
            getattr(ops, name)(NAN, axis=1, keepdims=True).numpy(), ref, rtol=1e-5
        )
    assert ops.nansum(NAN, axis=(0, 1)).item() == pytest.approx(np.nansum(NAN))
    assert ops.nanargmax(NAN, axis=1).tolist() == [2, -1, 1]


def test_select_diagonal_diff_rot90_match_numpy():
    x = np.arange(4)
    assert ops.select([x < 1, x > 2], [x, x * 10], default=-1).tolist() == [
        0,
        -1,
        -1,
        30,
    ]
    np.testing.assert_array_equal(
        ops.rot90(T3, k=-1, axes=(2, 0)).numpy(), np.rot90(T3, k=-1, axes=(2, 0))
    )
    np.testing.assert_array_equal(ops.diff(I32, n=0).numpy(), I32)
    np.testing.assert_array_equal(
        ops.diagonal(T3, offset=-1, axis1=2, axis2=0).numpy(),
        np.diagonal(T3, offset=-1, axis1=2, axis2=0),
    )


def test_get_item_takes_numpy_keys_and_masks():
    np.testing.assert_array_equal(ops.get_item(A, A > 0).numpy(), A[A > 0])
    np.testing.assert_array_equal(
        ops.get_item(T3, (np.array([1, 0]), Ellipsis, None)).numpy(),
        T3[np.array([1, 0]), ..., None],
    )


def test_vectorize_maps_scalars_and_signatures():
    clipped = ops.vectorize(lambda v: torch.where(v > 0, v, v * 0.5))
    np.testing.assert_allclose(clipped(A).numpy(), np.where(A > 0, A, A * 0.5))
    dot = ops.vectorize(lambda a, b: (a * b).sum(), signature="(n),(n)->()")
    np.testing.assert_allclose(dot(T3, V).numpy(), T3 @ V, rtol=1e-5)
    scale = ops.vectorize(lambda a, k: a * k, excluded={1})
    np.testing.assert_allclose(scale(A, 3.0).numpy(), A * 3.0)
    with pytest.raises(ValueError, match="signature like"):
        ops.vectorize(abs, signature="n->m")


# Symbolic calls: a KerasTensor in, a KerasTensor of the right shape out.


@pytest.mark.parametrize(
    "fn, expected",
    [
        (lambda x: ops.arctan2(x, 1.0), (None, 3)),
        (lambda x: ops.cbrt(x), (None, 3)),
        (lambda x: ops.nanmean(x, axis=-1), (None,)),
        (lambda x: ops.quantile(x, 0.5, axis=1, keepdims=True), (None, 1)),
        (lambda x: ops.moveaxis(ops.expand_dims(x, -1), 1, 2), (None, 1, 3)),
        (lambda x: ops.hstack([x, x]), (None, 6)),
        (lambda x: ops.isclose(x, 0.0), (None, 3)),
        (lambda x: ops.bitwise_and(ops.cast(x, "int32"), 1), (None, 3)),
    ],
)
def test_symbolic_calls_give_keras_tensors_of_the_right_shape(fn, expected):
    out = fn(lamina.Input((3,)))
    assert isinstance(out, KerasTensor)
    assert tuple(out.shape) == expected


def test_symbolic_op_runs_inside_a_functional_model():
    inputs = lamina.Input((3,))
    model = lamina.Model(inputs, ops.logaddexp(inputs, ops.flipud(inputs)))
    x = A[:2, :3]
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(x)), np.logaddexp(x, x[::-1]), rtol=1e-5
    )


# Bad arguments


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="ldexp expects integer exponents"):
        ops.ldexp(A, B)
    with pytest.raises(TypeError, match="bitwise_and expects integer"):
        ops.bitwise_and(A, 1)
    with pytest.raises(TypeError, match="gcd expects integer"):
        ops.gcd(A, 2)
    with pytest.raises(ValueError, match="quantile does not know method='cubic'"):
        ops.quantile(A, 0.5, method="cubic")
    with pytest.raises(ValueError, match=r"percentile expects `q` within \[0, 100\]"):
        ops.percentile(A, 150)
    with pytest.raises(ValueError, match="searchsorted expects a 1-D"):
        ops.searchsorted(A, 0.0)
    with pytest.raises(ValueError, match="hsplit cannot cut axis 1 of size 4 into 3"):
        ops.hsplit(A, 3)
    with pytest.raises(ValueError, match="rank >= 3"):
        ops.dsplit(A, 2)
    with pytest.raises(ValueError, match="out of range"):
        ops.swapaxes(A, 0, 2)
    with pytest.raises(ValueError, match="select expects non-empty"):
        ops.select([A > 0], [A, B])
    with pytest.raises(ValueError, match="2 or 3 components"):
        ops.cross(A, B)
    with pytest.raises(ValueError, match="correlate expects mode"):
        ops.correlate(V, V, mode="bogus")
    with pytest.raises(ValueError, match="histogram expects a 1-D"):
        ops.histogram(A)
    with pytest.raises(ValueError, match="non-negative"):
        ops.bincount(np.array([1, -1]))
    with pytest.raises(TypeError, match="window length as an int"):
        ops.hamming(2.5)
    with pytest.raises(ValueError, match="argpartition got kth=4"):
        ops.argpartition(V, 4)


def test_bincount_refuses_symbolic_inputs_clearly():
    # nonzero and unique give an unknown length symbolically, as in Keras
    # (tests/ops/test_keras_suite9.py); bincount's size depends on the values.
    with pytest.raises(ValueError, match="depends on the .*symbolic tensors"):
        ops.bincount(ops.cast(lamina.Input((3,)), "int32"))
