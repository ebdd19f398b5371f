"""Parity with Keras 3 (torch backend) of the nn / math / linalg / core / image /
einops ops: the same NumPy inputs through `lamina.ops.X` and `keras.ops.X`."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

import lamina  # noqa: E402
from lamina import ops  # noqa: E402

# Values are read with .numpy(): keep lamina on the CPU (see conftest.py).
pytestmark = pytest.mark.usefixtures("values_on_cpu")

RNG = np.random.default_rng(7)
A = RNG.normal(size=(3, 4)).astype("float32") * 2
T3 = RNG.normal(size=(2, 3, 4)).astype("float32")
P = RNG.uniform(0.05, 1.0, size=(3, 4)).astype("float32")
I32 = np.array([[1, -2, 3], [4, 5, -6]], "int32")
SPD = (lambda m: (m @ m.T + 4 * np.eye(4)).astype("float32"))(RNG.normal(size=(4, 4)))
SQ = RNG.normal(size=(2, 4, 4)).astype("float32")
RECT = RNG.normal(size=(5, 3)).astype("float32")
RHS = RNG.normal(size=(4, 2)).astype("float32")
SEG_DATA = RNG.normal(size=(6, 2)).astype("float32")
SEG_IDS = np.array([0, 0, 1, 3, 3, 3], "int32")
SIGNAL = RNG.normal(size=(2, 64)).astype("float32")


def to_numpy(value):
    if isinstance(value, (tuple, list)):
        return [to_numpy(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return keras.ops.convert_to_numpy(value)


def assert_same(ours, theirs, rtol=1e-5, atol=1e-6):
    ours, theirs = to_numpy(ours), to_numpy(theirs)
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            assert_same(o, t, rtol, atol)
        return
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def both(name, *args, module=None, **kwargs):
    ours = getattr(module[0] if module else ops, name)(*args, **kwargs)
    theirs = getattr(module[1] if module else keras.ops, name)(*args, **kwargs)
    return ours, theirs


ELEMENTWISE = [
    ("celu", (A,), {"alpha": 0.7}),
    ("glu", (A,), {}),
    ("glu", (T3,), {"axis": 1 - 1}),
    ("hard_shrink", (A,), {"threshold": 0.8}),
    ("hard_sigmoid", (A,), {}),
    ("hard_silu", (A,), {}),
    ("hard_swish", (A,), {}),
    ("hard_tanh", (A,), {}),
    ("log_sigmoid", (A,), {}),
    ("soft_shrink", (A,), {}),
    ("softsign", (A,), {}),
    ("sparse_plus", (A,), {}),
    ("sparse_sigmoid", (A,), {}),
    ("squareplus", (A,), {"b": 2}),
    ("swish", (A,), {}),
    ("tanh_shrink", (A,), {}),
    ("threshold", (A,), {"threshold": 0.3, "default_value": -1.0}),
    ("erfc", (A,), {}),
    ("logdet", (SPD,), {}),
    ("multi_hot", (np.array([[0, 2], [1, 1]], "int32"),), {"num_classes": 4}),
    ("multi_hot", (np.array([3, 0], "int32"), 5), {}),
    ("psnr", (P, P * 0.9, 1.0), {}),
    ("polar", (P, A), {}),
    ("cdist", (A, RECT[:, :1].repeat(4, axis=1)), {}),
    ("extract_sequences", (SIGNAL, 16, 8), {}),
    ("rfft", (SIGNAL,), {}),
    ("rfft", (SIGNAL, 32), {}),
    ("fft", ((A, P),), {}),
    ("fft2", ((A, P),), {}),
    ("ifft2", ((A, P),), {}),
    ("irfft", ((A, P),), {}),
    ("irfft", ((A, P), 8), {}),
    ("view_as_real", (np.array([1 + 2j, 3 - 1j], "complex64"),), {}),
    ("view_as_complex", (T3[..., :2],), {}),
    ("segment_max", (SEG_DATA, SEG_IDS), {"num_segments": 4}),
    ("segment_min", (SEG_DATA, SEG_IDS), {}),
    ("segment_prod", (SEG_DATA, SEG_IDS), {"num_segments": 5}),
    ("batch_normalization", (T3, T3[0, 0], P[0] + 0.5, 2), {}),
    (
        "batch_normalization",
        (T3, T3[0, :, 0], P[:, 0] + 0.5, 1),
        {"offset": P[:, 1], "scale": P[:, 2], "epsilon": 0.01},
    ),
    ("layer_normalization", (T3,), {}),
    ("layer_normalization", (T3, P[0], A[0]), {"epsilon": 0.1}),
    ("layer_normalization", (T3, A), {"axis": (1, 2)}),
    ("rms_normalization", (T3,), {}),
    ("rms_normalization", (T3, P[0]), {"epsilon": 0.1}),
    ("slice", (T3, [0, 1, 1], [2, 2, 3]), {}),
    ("slice_update", (T3, [1, 0, 2], np.ones((1, 2, 2), "float32")), {}),
    (
        "scatter",
        (
            np.array([[0, 1], [2, 3], [0, 1]]),
            np.array([1.0, 2.0, 3.0], "float32"),
            (3, 4),
        ),
        {},
    ),
    ("scatter", (np.array([[1], [0]]), np.ones((2, 4), "float32"), (3, 4)), {}),
    (
        "scatter_update",
        (A, np.array([[0, 1], [2, 3]]), np.array([9.0, 8.0], "float32")),
        {},
    ),
    ("scatter_update", (A, np.array([[1]]), np.ones((1, 4), "float32")), {}),
    ("unstack", (torch.tensor(T3),), {"axis": 1}),
    ("saturate_cast", (A * 100,), {"dtype": "uint8"}),
    ("saturate_cast", (np.array([-1e10, -3e9, 7.5], "float32"), "int32"), {}),
    ("saturate_cast", (np.array([300, -5], "int32"), "int8"), {}),
    ("cholesky", (SPD,), {}),
    ("cholesky", (SPD,), {"upper": True}),
    ("cholesky_inverse", (np.linalg.cholesky(SPD).astype("float32"),), {}),
    ("det", (SQ,), {}),
    ("eigh", (SPD,), {}),
    ("inv", (SQ,), {}),
    ("lu_factor", (SQ,), {}),
    ("qr", (RECT,), {}),
    ("qr", (RECT,), {"mode": "complete"}),
    ("solve", (SPD, RHS), {}),
    ("solve_triangular", (np.triu(SPD), RHS[:, 0]), {}),
    ("solve_triangular", (np.tril(SPD), RHS), {"lower": True}),
    ("svd", (RECT,), {"compute_uv": False}),
    ("lstsq", (RECT, RNG.normal(size=(5, 2)).astype("float32")), {}),
    ("matrix_rank", (np.outer(A[0], A[1]).astype("float32"),), {}),
    ("pinv", (RECT,), {}),
]


@pytest.mark.parametrize(
    "name, args, kwargs",
    ELEMENTWISE,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(ELEMENTWISE)],
)
def test_op_matches_keras(name, args, kwargs):
    ours, theirs = both(name, *args, **kwargs)
    # Factorisations and solvers: float32 LAPACK paths may differ in the last bits.
    loose = name in (
        "logdet",
        "det",
        "inv",
        "solve",
        "lstsq",
        "pinv",
        "cholesky_inverse",
    )
    assert_same(ours, theirs, rtol=1e-4 if loose else 1e-5, atol=1e-5)


def _sparsemax_reference(z):
    # Martins & Astudillo 2016, Algorithm 1, on one vector.
    s = np.sort(z)[::-1]
    k = np.arange(1, z.size + 1)
    support = 1 + k * s > np.cumsum(s)
    size = k[support][-1]
    tau = (np.cumsum(s)[size - 1] - 1) / size
    return np.maximum(z - tau, 0)


def test_sparsemax_projects_onto_the_simplex():
    # Keras 3.15's sparsemax sums the cumulative sums over the support (its
    # rows do not sum to 1 when the support has 2+ elements); lamina follows
    # the paper, checked against a NumPy transcription of it.
    out = ops.sparsemax(T3, axis=1).numpy()
    expected = np.apply_along_axis(_sparsemax_reference, 1, T3)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(ops.sparsemax([3.0, 1.0]).numpy(), [1.0, 0.0])


def test_normalizations_over_a_middle_axis_follow_the_formula():
    # Keras 3.15 (torch) fails here: it hands (3,) to F.layer_norm for axis=1.
    mean = T3.mean(axis=1, keepdims=True)
    var = T3.var(axis=1, keepdims=True)
    gamma = P[:, 0].reshape(1, 3, 1)
    expected = (T3 - mean) / np.sqrt(var + 1e-3) * gamma
    out = ops.layer_normalization(T3, P[:, 0], axis=1, epsilon=1e-3)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    rms = np.sqrt((T3**2).mean(axis=1, keepdims=True) + 1e-3)
    out = ops.rms_normalization(T3, P[:, 0], axis=1, epsilon=1e-3)
    np.testing.assert_allclose(out.numpy(), T3 / rms * gamma, rtol=1e-5, atol=1e-6)


def test_saturate_cast_saturates_beyond_float32s_int32_range():
    # Keras 3.15 (torch) wraps 3e9 around to -2**31 here; lamina saturates at
    # the largest float32 below 2**31, as Keras's own clipping intends.
    out = ops.saturate_cast(np.array([3e9, -3e9, np.inf], "float32"), "int32")
    assert out.dtype == torch.int32
    assert out.tolist() == [2147483520, -2147483648, 2147483520]


def test_integer_inputs_to_activations_compute_in_floatx():
    out = ops.softsign(I32)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), I32 / (np.abs(I32) + 1), rtol=1e-6)


def test_svd_and_eig_reconstruct_their_input():
    u, s, vh = ops.svd(RECT, full_matrices=False)
    np.testing.assert_allclose((u * s[None]) @ vh, RECT, atol=1e-5)
    w, v = ops.eig(SQ[0])
    recon = v @ torch.diag_embed(w) @ torch.linalg.inv(v)
    np.testing.assert_allclose(recon.real.numpy(), SQ[0], atol=1e-4)


# Convolutions and pooling, both data formats


def _conv_cases():
    cases = []
    for df in ("channels_last", "channels_first"):
        for padding in ("valid", "same"):
            cases.append((df, padding))
    return cases


def _image(rank, df, channels=3, size=7):
    shape = (2,) + (size,) * rank + (channels,)
    x = RNG.normal(size=shape).astype("float32")
    if df == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    return x


@pytest.mark.parametrize("df, padding", _conv_cases())
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_conv_matches_keras(rank, df, padding):
    x = _image(rank, df, size=6 if rank == 3 else 7)
    kernel = RNG.normal(size=(3,) * rank + (3, 4)).astype("float32")
    for strides, dilation in ((1, 1), (2, 1), (1, 2)):
        ours, theirs = both(
            "conv", x, kernel, strides, padding, df, dilation_rate=dilation
        )
        assert_same(ours, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("df, padding", _conv_cases())
def test_grouped_depthwise_and_separable_conv_match_keras(df, padding):
    x = _image(2, df, channels=4)
    grouped = RNG.normal(size=(2, 2, 2, 6)).astype("float32")
    assert_same(*both("conv", x, grouped, 2, padding, df), rtol=1e-4, atol=1e-4)
    depthwise = RNG.normal(size=(3, 3, 4, 2)).astype("float32")
    pointwise = RNG.normal(size=(1, 1, 8, 5)).astype("float32")
    assert_same(
        *both("depthwise_conv", x, depthwise, 2, padding, df), rtol=1e-4, atol=1e-4
    )
    assert_same(
        *both("separable_conv", x, depthwise, pointwise, 1, padding, df),
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.parametrize("df, padding", _conv_cases())
@pytest.mark.parametrize("rank", [1, 2])
def test_conv_transpose_matches_keras(rank, df, padding):
    x = _image(rank, df, channels=3, size=5)
    for k, strides, output_padding in (
        (3, 2, None),
        (4, 2, None),
        (3, 1, None),
        (3, 2, 1),
    ):
        kernel = RNG.normal(size=(k,) * rank + (2, 3)).astype("float32")
        ours, theirs = both(
            "conv_transpose", x, kernel, strides, padding, output_padding, df
        )
        assert_same(ours, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("df, padding", _conv_cases())
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_pooling_matches_keras(rank, df, padding):
    x = _image(rank, df, size=6)
    for pool, strides in ((2, None), (3, 1), (3, 2)):
        assert_same(*both("max_pool", x, pool, strides, padding, df))
        if padding == "same" and pool == 3 and strides == 2:
            # Keras's torch backend averages replicated border pixels here;
            # lamina (like Keras's TF and JAX backends) averages real pixels.
            continue
        assert_same(*both("average_pool", x, pool, strides, padding, df))


def test_average_pool_same_padding_counts_real_elements_only():
    x = np.arange(1.0, 7.0, dtype="float32").reshape(1, 6, 1)
    out = ops.average_pool(x, 3, 2, "same")
    # Windows [1 2 3], [3 4 5], [5 6 | pad]: the last averages 2 elements.
    np.testing.assert_allclose(out.numpy().ravel(), [2.0, 4.0, 5.5])


@pytest.mark.parametrize("df", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_adaptive_pools_match_keras(rank, df):
    x = _image(rank, df, size=7)
    for size in (3, (2,) * rank):
        assert_same(*both("adaptive_average_pool", x, size, data_format=df))
        assert_same(*both("adaptive_max_pool", x, size, data_format=df))


@pytest.mark.parametrize("df", ["channels_last", "channels_first"])
def test_depth_space_fold_unfold_match_keras(df):
    x = RNG.normal(size=(2, 4, 6, 8)).astype("float32")
    assert_same(*both("depth_to_space", x, 2, data_format=df))
    assert_same(*both("space_to_depth", x, 2, data_format=df))
    x = torch.tensor(x)
    cols = ops.unfold(x, 3, padding=1, stride=2)
    assert_same(cols, keras.ops.unfold(x, 3, padding=1, stride=2))
    assert_same(*both("fold", cols, (6, 8), 3, padding=1, stride=2))
    back = ops.space_to_depth(ops.depth_to_space(x, 2, data_format=df), 2, df)
    np.testing.assert_array_equal(back.numpy(), x.numpy())


# Attention and CTC


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"is_causal": True},
        {"scale": 0.3},
        {"mask": RNG.uniform(size=(2, 1, 5, 6)) > 0.3},
        {"mask": RNG.uniform(size=(2, 1, 5, 6)) > 0.3, "is_causal": True},
        {"bias": RNG.normal(size=(1, 4, 5, 6)).astype("float32")},
    ],
    ids=["plain", "causal", "scale", "mask", "mask+causal", "bias"],
)
def test_dot_product_attention_matches_keras(kwargs):
    q = RNG.normal(size=(2, 5, 4, 8)).astype("float32")
    k = RNG.normal(size=(2, 6, 2, 8)).astype("float32")  # grouped-query heads
    v = RNG.normal(size=(2, 6, 2, 3)).astype("float32")
    if kwargs.get("is_causal") and "mask" not in kwargs:
        k, v = k[:, :5], v[:, :5]
    assert_same(*both("dot_product_attention", q, k, v, **kwargs), atol=1e-5)


def test_dot_product_attention_soft_cap_bounds_the_logits():
    q = RNG.normal(size=(1, 3, 1, 4)).astype("float32") * 50
    k = RNG.normal(size=(1, 3, 1, 4)).astype("float32") * 50
    v = np.eye(3, dtype="float32")[None, :, None, :]
    out = ops.dot_product_attention(q, k, v, attn_logits_soft_cap=1.0, scale=1.0)
    logits = np.clip(np.einsum("bqhd,bkhd->bhqk", q, k), -1e9, 1e9)
    capped = np.tanh(logits)
    expected = np.exp(capped) / np.exp(capped).sum(-1, keepdims=True)
    np.testing.assert_allclose(out.numpy()[0, :, 0], expected[0, 0], rtol=1e-5)


def test_ctc_loss_and_greedy_decode_match_keras():
    logits = RNG.normal(size=(2, 8, 5)).astype("float32")
    target = np.array([[1, 2, 2, 0], [3, 1, 0, 0]], "int32")
    target_length = np.array([3, 2], "int32")
    output_length = np.array([8, 6], "int32")
    assert_same(
        *both("ctc_loss", target, logits, target_length, output_length), rtol=1e-4
    )
    log_probs = np.log(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True))
    for merge in (True, False):
        assert_same(*both("ctc_decode", log_probs, output_length, merge_repeated=merge))


# Core: control flow and custom gradients


def test_control_flow_matches_keras():
    assert_same(*both("cond", True, lambda: A, lambda: P))
    assert_same(*both("cond", np.array(False), lambda: A, lambda: P))
    branches = [lambda x: x + 1, lambda x: x * 2]
    assert_same(*both("switch", 7, branches, A))
    assert_same(*both("switch", -3, branches, A))
    body = (lambda i, x: (i + 1, x * 2),)
    assert_same(
        *both("while_loop", lambda i, x: i < 3, body[0], (0, A), maximum_iterations=2)
    )
    assert_same(*both("while_loop", lambda x: x < 100, lambda x: x * 3, 1))
    assert_same(*both("fori_loop", 0, 5, lambda i, x: x + i, A))


def test_scans_and_maps_match_keras():
    def step(carry, x):
        return carry * 0.5 + x, carry + x

    for reverse in (False, True):
        assert_same(*both("scan", step, A[0], T3.reshape(6, 4), reverse=reverse))
    assert_same(*both("scan", lambda c, _: (c + 1, c * 2), A[0], length=3))
    pairs = {"a": T3[0], "b": T3[1]}
    assert_same(*both("map", lambda d: d["a"] * d["b"], pairs))
    assert_same(*both("vectorized_map", lambda row: row.sum() * row, torch.tensor(A)))
    for reverse in (False, True):
        assert_same(
            *both("associative_scan", lambda a, b: a + b, T3, reverse=reverse, axis=1)
        )
    assert_same(
        *both(
            "associative_scan",
            lambda a, b: (a[0] * b[0], a[1] + b[1]),
            (P, A),
            axis=0,
        )
    )


def test_associative_scan_keeps_order_for_non_commutative_f():
    mats = RNG.normal(size=(5, 2, 2)).astype("float32")
    out = ops.associative_scan(lambda a, b: a @ b, mats)
    expected = [mats[0]]
    for m in mats[1:]:
        expected.append(expected[-1] @ m)
    np.testing.assert_allclose(out.numpy(), np.stack(expected), rtol=1e-4, atol=1e-5)


def test_custom_gradient_replaces_the_gradient():
    @ops.custom_gradient
    def scaled_identity(x, factor):
        def grad(x, factor, upstream=None):
            return upstream * factor, None

        return x * 1.0, grad

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    scaled_identity(x, torch.tensor(3.0)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_jvp_matches_keras():
    primals, tangents = (torch.tensor(A),), (torch.ones(3, 4),)
    ours = ops.jvp(torch.sin, primals, tangents)
    theirs = keras.ops.jvp(torch.sin, primals, tangents)
    assert_same(list(ours), list(theirs))


# FFT framing


@pytest.mark.parametrize(
    "window, center, fft_length",
    [("hann", True, 32), ("hamming", False, 32), (None, True, 40)],
)
def test_stft_and_istft_match_keras(window, center, fft_length):
    args = (SIGNAL, 32, 8, fft_length)
    ours, theirs = both("stft", *args, window=window, center=center)
    assert_same(ours, theirs, rtol=1e-4, atol=1e-4)
    spectrum = tuple(t.numpy() for t in ours)
    back = both("istft", spectrum, 32, 8, fft_length, window=window, center=center)
    assert_same(*back, rtol=1e-4, atol=1e-4)


def test_istft_inverts_stft():
    spectrum = ops.stft(SIGNAL, 32, 8, 32)
    back = ops.istft(spectrum, 32, 8, 32, length=64)
    np.testing.assert_allclose(back.numpy(), SIGNAL, atol=1e-5)


# Image ops


@pytest.mark.parametrize("df", ["channels_last", "channels_first"])
def test_image_ops_match_keras(df):
    rgb = RNG.uniform(size=(2, 6, 8, 3)).astype("float32")
    if df == "channels_first":
        rgb = np.moveaxis(rgb, -1, 1).copy()
    mods = (ops.image, keras.ops.image)
    for interpolation in ("bilinear", "nearest", "bicubic"):
        assert_same(
            *both("resize", rgb, (5, 9), interpolation, module=mods, data_format=df),
            atol=1e-5,
        )
    assert_same(*both("resize", rgb[0], (4, 4), module=mods, data_format=df))
    for name in ("rgb_to_grayscale", "rgb_to_hsv", "hsv_to_rgb"):
        assert_same(*both(name, rgb, module=mods, data_format=df), atol=1e-6)
    assert_same(
        *both(
            "pad_images",
            rgb,
            1,
            2,
            target_height=9,
            target_width=11,
            module=mods,
            data_format=df,
        )
    )
    assert_same(
        *both(
            "crop_images",
            rgb,
            1,
            2,
            bottom_cropping=2,
            right_cropping=1,
            module=mods,
            data_format=df,
        )
    )
    for size, strides, padding in ((2, None, "valid"), (3, 2, "same")):
        assert_same(
            *both(
                "extract_patches",
                rgb,
                size,
                strides,
                padding=padding,
                module=mods,
                data_format=df,
            )
        )
    transform = np.array([[1.0, 0.2, -1.0, 0.1, 0.9, 0.5, 0, 0]] * 2, "float32")
    for fill_mode in ("constant", "nearest", "reflect", "wrap", "mirror"):
        assert_same(
            *both(
                "affine_transform",
                rgb,
                transform,
                "bilinear",
                fill_mode,
                0.5,
                module=mods,
                data_format=df,
            ),
            atol=1e-5,
        )


@pytest.mark.parametrize(
    "fill_mode", ["constant", "nearest", "wrap", "mirror", "reflect"]
)
@pytest.mark.parametrize("order", [0, 1])
def test_map_coordinates_matches_keras(order, fill_mode):
    image = RNG.normal(size=(5, 6)).astype("float32")
    coords = RNG.uniform(-3, 9, size=(2, 4, 3)).astype("float32")
    mods = (ops.image, keras.ops.image)
    assert_same(
        *both("map_coordinates", image, coords, order, fill_mode, 0.5, module=mods)
    )


def test_rearrange_matches_keras():
    x = RNG.normal(size=(2, 6, 4, 3)).astype("float32")
    for pattern, lengths in (
        ("b h w c -> b (h w) c", {}),
        ("b (h p) w c -> b h (p w) c", {"p": 2}),
        ("b h w c -> c b w h", {}),
    ):
        assert_same(*both("rearrange", x, pattern, **lengths))


# Symbolic (functional API) calls


KERNEL = np.ones((3, 3, 3, 8), "float32")
SYMBOLIC = [
    ("conv", lambda m, t: m.conv(t, KERNEL, 2, "same"), (None, 16, 15, 3)),
    ("conv_transpose", lambda m, t: m.conv_transpose(t, KERNEL, 2), (None, 5, 6, 8)),
    ("max_pool", lambda m, t: m.max_pool(t, 3, 2, "same"), (None, 9, 16, 3)),
    ("average_pool", lambda m, t: m.average_pool(t, 2), (4, 9, 16, 3)),
    # channels_first: Keras 3.15 mis-infers the channels_last shape symbolically.
    (
        "adaptive_max_pool",
        lambda m, t: m.adaptive_max_pool(t, (4, 3), "channels_first"),
        (None, 3, 9, 16),
    ),
    ("depth_to_space", lambda m, t: m.depth_to_space(t, 2), (None, 4, 4, 8)),
    ("hard_silu", lambda m, t: m.hard_silu(t), (None, 5)),
    ("glu", lambda m, t: m.glu(t), (None, 6)),
    ("layer_normalization", lambda m, t: m.layer_normalization(t), (None, 7, 5)),
    ("multi_hot", lambda m, t: m.multi_hot(t, 10), (None, 3)),
    ("slice", lambda m, t: m.slice(t, [0, 1], [2, 3]), (4, 5)),
    ("segment_max", lambda m, t: m.segment_max(t, np.arange(4) % 2, 2), (4, 3)),
    ("stft", lambda m, t: m.stft(t, 16, 8, 16)[0], (None, 64)),
    ("resize", lambda m, t: m.image.resize(t, (8, 10)), (None, 16, 16, 3)),
    ("extract_patches", lambda m, t: m.image.extract_patches(t, 4), (None, 16, 16, 3)),
    ("rearrange", lambda m, t: m.rearrange(t, "b h w c -> b (h w c)"), (2, 4, 4, 8)),
]


@pytest.mark.parametrize("name, fn, shape", SYMBOLIC, ids=[c[0] for c in SYMBOLIC])
def test_symbolic_call_gives_keras_output_shape(name, fn, shape):
    ours = fn(ops, lamina.Input(batch_shape=shape))
    theirs = fn(keras.ops, keras.Input(batch_shape=shape))
    assert isinstance(ours, lamina.KerasTensor)
    assert tuple(ours.shape) == tuple(theirs.shape)


def test_symbolic_adaptive_pool_keeps_batch_and_channels():
    out = ops.adaptive_average_pool(lamina.Input(batch_shape=(None, 9, 16, 3)), 4)
    assert tuple(out.shape) == (None, 4, 4, 3)


def test_ops_work_inside_a_functional_model():
    inputs = lamina.Input(shape=(8, 8, 3))
    x = ops.conv(inputs, np.ones((3, 3, 3, 4), "float32") / 27, 1, "same")
    x = ops.hard_silu(ops.max_pool(x, 2))
    model = lamina.Model(inputs, ops.layer_normalization(x))
    data = RNG.normal(size=(2, 8, 8, 3)).astype("float32")
    expected = keras.ops.layer_normalization(
        keras.ops.hard_silu(
            keras.ops.max_pool(
                keras.ops.conv(data, np.ones((3, 3, 3, 4), "float32") / 27, 1, "same"),
                2,
            )
        )
    )
    assert_same(model(data), expected, rtol=1e-4, atol=1e-5)


# Errors


def test_errors_name_the_op_and_what_was_wrong():
    with pytest.raises(ValueError, match=r"ops\.glu.*even size"):
        ops.glu(np.ones((2, 3), "float32"))
    with pytest.raises(
        ValueError, match=r"ops\.conv expects the kernel's input-channel"
    ):
        ops.conv(np.ones((1, 5, 5, 3), "float32"), np.ones((3, 3, 2, 4), "float32"))
    with pytest.raises(ValueError, match=r"ops\.max_pool expects `padding`"):
        ops.max_pool(np.ones((1, 4, 4, 1), "float32"), 2, padding="full")
    with pytest.raises(ValueError, match=r"ops\.conv expects inputs of rank 3, 4 or 5"):
        ops.conv(np.ones((5, 5), "float32"), np.ones((3, 3), "float32"))
    with pytest.raises(
        ValueError, match=r"ops\.dot_product_attention accepts `bias` or `mask`"
    ):
        q = np.ones((1, 2, 1, 4), "float32")
        ops.dot_product_attention(
            q, q, q, bias=np.zeros((1, 1, 2, 2)), mask=np.ones((1, 1, 2, 2), bool)
        )
    with pytest.raises(ValueError, match=r"ops\.inv expects square matrices"):
        ops.inv(RECT)
    with pytest.raises(
        ValueError, match=r"ops\.cholesky expects symmetric positive-definite"
    ):
        ops.cholesky(-SPD)
    with pytest.raises(ValueError, match=r"ops\.scatter_update expects reduction"):
        ops.scatter_update(A, np.array([[0, 0]]), np.array([1.0]), reduction="avg")
    with pytest.raises(ValueError, match=r"ops\.scan needs `xs`"):
        ops.scan(lambda c, x: (c, x), 0.0)
    with pytest.raises(TypeError, match=r"ops\.stft expects a float32 or float64"):
        ops.stft(np.ones((2, 64), "int32"), 16, 8, 16)
    with pytest.raises(ValueError, match=r"ops\.image\.pad_images expects exactly two"):
        ops.image.pad_images(np.ones((4, 4, 3), "float32"), 1, 1, 1, 1, 9, 9)
    with pytest.raises(ValueError, match=r"ops\.rearrange cannot split"):
        ops.rearrange(np.ones((2, 6), "float32"), "b (h w) -> b h w", h=4)
    with pytest.raises(ValueError, match=r"ops\.multi_hot needs `num_classes`"):
        ops.multi_hot(np.array([1, 2]))
