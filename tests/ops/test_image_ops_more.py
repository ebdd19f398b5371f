"""The newer `keras.ops.image` functions (blur, edges, SSIM, perspective and
elastic warps, `scale_and_translate`, 3D patches) and the Lanczos and area
resizes: values against Keras 3 on the torch backend, or against NumPy where
Keras's torch backend rejects or mis-handles the case."""

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

RNG = np.random.default_rng(34)
IMAGES = RNG.random((2, 17, 13, 3)).astype("float32")
OTHER = np.clip(IMAGES + 0.2 * RNG.standard_normal(IMAGES.shape), 0, 1).astype(
    "float32"
)
VOLUMES = RNG.random((2, 6, 5, 7, 2)).astype("float32")
START = np.array([[0, 0], [0, 17], [13, 0], [13, 17]], "float32")
END = np.array(
    [
        [[1, 2], [0, 15], [12, -1], [14, 17]],
        [[-2, 1], [1, 18], [11, 2], [13, 16]],
    ],
    "float32",
)


def to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return keras.ops.convert_to_numpy(value)


def assert_same(ours, theirs, rtol=1e-5, atol=1e-6):
    ours, theirs = to_numpy(ours), to_numpy(theirs)
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def layout(x, df, batched=True):
    """`x` (channels last, batched) in `df`, optionally its first image only."""
    x = x if df == "channels_last" else np.moveaxis(x, -1, 1).copy()
    return x if batched else x[0]


BOTH = pytest.mark.parametrize(
    "df, batched",
    [
        ("channels_last", True),
        ("channels_first", True),
        ("channels_last", False),
        ("channels_first", False),
    ],
)


# gaussian_blur


@BOTH
@pytest.mark.parametrize(
    "kernel_size, sigma", [((3, 3), (1.0, 1.0)), ((5, 5), (0.8, 2.0))]
)
def test_gaussian_blur_matches_keras(df, batched, kernel_size, sigma):
    x = layout(IMAGES, df, batched)
    ours = ops.image.gaussian_blur(x, kernel_size, sigma, data_format=df)
    theirs = keras.ops.image.gaussian_blur(x, kernel_size, sigma, data_format=df)
    assert_same(ours, theirs)


def _numpy_blur(image, kernel):
    """Zero-padded 'SAME' correlation of each channel of `(h, w, c)` image."""
    kh, kw = kernel.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.pad(image, ((top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    out = np.zeros_like(image, dtype="float64")
    for i in range(kh):
        for j in range(kw):
            out += kernel[i, j] * padded[i : i + image.shape[0], j : j + image.shape[1]]
    return out


def _numpy_gaussian(size, sigma):
    k = np.exp(-0.5 * ((np.arange(size) - (size - 1) / 2) / sigma) ** 2)
    return k / k.sum()


@pytest.mark.parametrize("kernel_size", [(3, 5), (4, 2)])
def test_gaussian_blur_uneven_and_even_kernels_follow_keras_jax(kernel_size):
    # Keras's torch backend changes the output size for these kernels; its JAX
    # backend (followed here) keeps it: kernel_size[0] and sigma[0] run along
    # the width, padding is 'SAME'.
    sigma = (0.7, 1.6)
    kernel = np.outer(
        _numpy_gaussian(kernel_size[1], sigma[1]),
        _numpy_gaussian(kernel_size[0], sigma[0]),
    )
    ours = ops.image.gaussian_blur(IMAGES[0], kernel_size, sigma, "channels_last")
    np.testing.assert_allclose(
        to_numpy(ours), _numpy_blur(IMAGES[0], kernel), rtol=1e-5, atol=1e-6
    )


def test_gaussian_blur_default_data_format_is_the_image_data_format():
    # Keras's torch backend reads data_format=None as channels first.
    np.testing.assert_array_equal(
        to_numpy(ops.image.gaussian_blur(IMAGES)),
        to_numpy(ops.image.gaussian_blur(IMAGES, data_format="channels_last")),
    )


def test_gaussian_blur_keeps_integer_and_float64_dtypes():
    x8 = (IMAGES * 255).astype("uint8")
    out = to_numpy(ops.image.gaussian_blur(x8, data_format="channels_last"))
    assert out.dtype == np.uint8
    expected = to_numpy(
        ops.image.gaussian_blur(x8.astype("float32"), data_format="channels_last")
    )
    np.testing.assert_array_equal(out, np.round(expected).astype("uint8"))
    x64 = torch.from_numpy(IMAGES.astype("float64"))
    assert_same(
        ops.image.gaussian_blur(x64, data_format="channels_last"),
        keras.ops.image.gaussian_blur(x64, data_format="channels_last"),
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kernel_size": (3,)}, "kernel_size` as two positive ints"),
        ({"kernel_size": (0, 3)}, "kernel_size` as two positive ints"),
        ({"sigma": (1.0, -1.0)}, "sigma` as two positive floats"),
        ({"data_format": "nhwc"}, "data_format"),
    ],
)
def test_gaussian_blur_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=r"ops\.image\.gaussian_blur.*" + match):
        ops.image.gaussian_blur(IMAGES, **kwargs)


# sobel_edges


@pytest.mark.parametrize("df", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sobel_edges_matches_keras(df, dtype):
    x = torch.from_numpy(layout(IMAGES, df).astype(dtype))
    ours = ops.image.sobel_edges(x, data_format=df)
    assert_same(ours, keras.ops.image.sobel_edges(x, data_format=df))
    channels_axis = 3 if df == "channels_last" else 1
    assert ours.shape[channels_axis] == 3 and ours.shape[-1] == 2


def test_sobel_edges_of_a_vertical_step_is_horizontal():
    x = np.zeros((1, 6, 6, 1), "float32")
    x[0, :, 3:] = 1.0
    edges = to_numpy(ops.image.sobel_edges(x, data_format="channels_last"))
    dy, dx = edges[0, 1:-1, :, 0, 0], edges[0, 1:-1, :, 0, 1]
    np.testing.assert_array_equal(dy, 0.0)
    np.testing.assert_array_equal(dx[:, 2:4], 4.0)


def test_sobel_edges_needs_a_batch():
    with pytest.raises(ValueError, match=r"ops\.image\.sobel_edges expects a batch"):
        ops.image.sobel_edges(IMAGES[0])


# ssim


@BOTH
def test_ssim_matches_keras(df, batched):
    a, b = layout(IMAGES, df, batched), layout(OTHER, df, batched)
    ours = ops.image.ssim(a, b, data_format=df)
    assert_same(ours, keras.ops.image.ssim(a, b, data_format=df), rtol=1e-4)
    assert tuple(ours.shape) == ((2,) if batched else ())


def test_ssim_arguments_match_keras():
    kwargs = dict(max_val=2.0, filter_size=5, filter_sigma=0.9, k1=0.02, k2=0.05)
    ours = ops.image.ssim(IMAGES, OTHER, data_format="channels_last", **kwargs)
    theirs = keras.ops.image.ssim(IMAGES, OTHER, data_format="channels_last", **kwargs)
    assert_same(ours, theirs, rtol=1e-4)


def test_ssim_of_identical_images_is_one():
    out = to_numpy(ops.image.ssim(IMAGES, IMAGES, data_format="channels_last"))
    np.testing.assert_allclose(out, [1.0, 1.0], rtol=1e-5)


def test_ssim_rejects_mismatched_shapes_and_large_filters():
    with pytest.raises(
        ValueError, match=r"ops\.image\.ssim expects image2 of the same"
    ):
        ops.image.ssim(IMAGES, OTHER[0])
    with pytest.raises(ValueError, match=r"ops\.image\.ssim expects `filter_size`"):
        ops.image.ssim(IMAGES, OTHER, filter_size=15, data_format="channels_last")


# perspective_transform


@BOTH
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_perspective_transform_matches_keras(df, batched, interpolation):
    x = layout(IMAGES, df, batched)
    end = END if batched else END[0]
    start = np.stack([START, START]) if batched else START
    ours = ops.image.perspective_transform(
        x, start, end, interpolation, fill_value=0.5, data_format=df
    )
    theirs = keras.ops.image.perspective_transform(
        x, start, end, interpolation, fill_value=0.5, data_format=df
    )
    assert_same(ours, theirs, rtol=1e-5, atol=1e-5)


def test_perspective_transform_with_equal_points_is_the_identity():
    out = ops.image.perspective_transform(
        IMAGES, START, START, data_format="channels_last"
    )
    np.testing.assert_allclose(to_numpy(out), IMAGES, atol=1e-5)


def test_perspective_transform_of_integer_images_rounds_like_keras():
    x = (IMAGES * 200).astype("int32")
    start = np.stack([START, START])
    ours = ops.image.perspective_transform(x, start, END, data_format="channels_last")
    theirs = keras.ops.image.perspective_transform(
        x, start, END, data_format="channels_last"
    )
    assert_same(ours, theirs, atol=1)


@pytest.mark.parametrize(
    "start, end, match",
    [
        (START[:3], START[:3], "start_points` of shape"),
        (START, np.zeros((4, 3), "float32"), "end_points` of shape"),
        (START, np.stack([START] * 3), "same shape"),
    ],
)
def test_perspective_transform_rejects_bad_points(start, end, match):
    with pytest.raises(
        ValueError, match=r"ops\.image\.perspective_transform.*" + match
    ):
        ops.image.perspective_transform(IMAGES, start, end)


def test_perspective_transform_rejects_bad_interpolation():
    with pytest.raises(ValueError, match="interpolation='nearest' or 'bilinear'"):
        ops.image.perspective_transform(IMAGES, START, START, interpolation="bicubic")


# scale_and_translate


@pytest.mark.parametrize(
    "method", ["linear", "bilinear", "cubic", "bicubic", "lanczos3", "lanczos5"]
)
@pytest.mark.parametrize("antialias", [True, False])
def test_scale_and_translate_matches_keras(method, antialias):
    args = (
        (2, 9, 20, 3),
        np.array([9 / 17, 20 / 13], "float32"),
        np.array([0.4, -1.3], "float32"),
        (1, 2),
        method,
        antialias,
    )
    ours = ops.image.scale_and_translate(IMAGES, *args)
    assert_same(ours, keras.ops.image.scale_and_translate(IMAGES, *args), atol=1e-5)


def test_scale_and_translate_keras_docstring_example():
    images = np.arange(9, dtype="float32").reshape((3, 3))
    scale = np.array([2.0, 2.0], "float32")
    out = ops.image.scale_and_translate(
        images, (5, 5), scale, -(scale / 2.0 - 0.5), (0, 1), "linear"
    )
    expected = np.arange(5)[:, None] * 1.5 + np.arange(5) * 0.5
    np.testing.assert_allclose(to_numpy(out), expected)


def test_scale_and_translate_accepts_triangle_and_negative_dims():
    args = ((2, 6, 13, 3), np.array([6 / 17], "float32"), np.zeros(1, "float32"))
    ours = ops.image.scale_and_translate(IMAGES, *args, (-3,), "triangle")
    theirs = keras.ops.image.scale_and_translate(IMAGES, *args, (1,), "linear")
    assert_same(ours, theirs, atol=1e-6)


def test_scale_and_translate_of_integers_gives_float32_as_jax():
    x = (IMAGES * 255).astype("uint8")
    scale, shift = np.array([0.5, 0.5], "float32"), np.zeros(2, "float32")
    out = ops.image.scale_and_translate(x, (2, 8, 6, 3), scale, shift, (1, 2), "cubic")
    floats = ops.image.scale_and_translate(
        x.astype("float32"), (2, 8, 6, 3), scale, shift, (1, 2), "cubic"
    )
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(to_numpy(out), to_numpy(floats))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "nearest"}, "expects method in"),
        ({"output_shape": (9, 20, 3)}, "one non-negative int per axis"),
        ({"output_shape": (3, 9, 20, 3)}, "can only resize the axes"),
        ({"scale": np.ones(3, "float32")}, "one value per spatial dim"),
    ],
)
def test_scale_and_translate_rejects_bad_arguments(kwargs, match):
    args = dict(
        output_shape=(2, 9, 20, 3),
        scale=np.ones(2, "float32"),
        translation=np.zeros(2, "float32"),
        spatial_dims=(1, 2),
        method="linear",
    )
    with pytest.raises(ValueError, match=r"ops\.image\.scale_and_translate .*" + match):
        ops.image.scale_and_translate(IMAGES, **{**args, **kwargs})


# resize with "lanczos3", "lanczos5" and "area"


@BOTH
@pytest.mark.parametrize("method", ["lanczos3", "lanczos5"])
@pytest.mark.parametrize("antialias", [True, False])
def test_lanczos_resize_is_jax_resize(df, batched, method, antialias):
    # Keras's torch backend rejects Lanczos; jax.image.resize is
    # scale_and_translate with scale = out / in and no shift, which Keras's
    # torch backend implements.
    x = layout(IMAGES, df, batched)
    ours = ops.image.resize(x, (7, 20), method, antialias, data_format=df)
    axes = (1, 2) if df == "channels_last" else (2, 3)
    axes = axes if batched else tuple(a - 1 for a in axes)
    shape = list(x.shape)
    shape[axes[0]], shape[axes[1]] = 7, 20
    theirs = keras.ops.image.scale_and_translate(
        x,
        shape,
        np.array([7 / 17, 20 / 13], "float32"),
        np.zeros(2, "float32"),
        axes,
        method,
        antialias,
    )
    assert_same(ours, theirs, atol=1e-5)


def _numpy_area(image, size):
    """TensorFlow's area resize of one `(h, w, c)` image, pixel by pixel."""
    out = np.zeros((*size, image.shape[-1]))
    sy, sx = image.shape[0] / size[0], image.shape[1] / size[1]
    for oy in range(size[0]):
        for ox in range(size[1]):
            for iy in range(image.shape[0]):
                wy = max(0.0, min(iy + 1, (oy + 1) * sy) - max(iy, oy * sy))
                for ix in range(image.shape[1]):
                    wx = max(0.0, min(ix + 1, (ox + 1) * sx) - max(ix, ox * sx))
                    out[oy, ox] += wy * wx * image[iy, ix]
    return out / (sy * sx)


@pytest.mark.parametrize("size", [(5, 4), (17, 13), (20, 6)])
def test_area_resize_averages_the_covered_area(size):
    ours = ops.image.resize(IMAGES[0], size, "area", data_format="channels_last")
    np.testing.assert_allclose(
        to_numpy(ours), _numpy_area(IMAGES[0], size), rtol=1e-5, atol=1e-6
    )


def test_area_resize_by_whole_factors_is_average_pooling_in_both_formats():
    x = RNG.random((2, 8, 12, 3)).astype("float32")
    pooled = x.reshape(2, 4, 2, 4, 3, 3).mean(axis=(2, 4))
    last = ops.image.resize(x, (4, 4), "area", data_format="channels_last")
    first = ops.image.resize(
        np.moveaxis(x, -1, 1).copy(), (4, 4), "area", data_format="channels_first"
    )
    np.testing.assert_allclose(to_numpy(last), pooled, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(first), np.moveaxis(pooled, -1, 1), rtol=1e-6)


def test_lanczos_and_area_resize_round_integer_images():
    x = (IMAGES * 255).astype("uint8")
    for method in ("lanczos3", "area"):
        out = ops.image.resize(x, (9, 5), method, data_format="channels_last")
        floats = ops.image.resize(
            x.astype("float32"), (9, 5), method, data_format="channels_last"
        )
        assert out.dtype == torch.uint8
        expected = np.clip(np.round(to_numpy(floats)), 0, 255).astype("uint8")
        np.testing.assert_array_equal(to_numpy(out), expected)


@pytest.mark.parametrize("method", ["lanczos5", "area"])
@pytest.mark.parametrize("df", ["channels_last", "channels_first"])
def test_weighted_resizes_crop_and_pad_to_aspect_ratio_as_the_others(method, df):
    # 17x13 -> 6x6: the centred 13x13 crop, or 17x17 with 2 padded columns
    # on each side.
    def resize(x, **kwargs):
        out = ops.image.resize(layout(x, df), (6, 6), method, data_format=df, **kwargs)
        return to_numpy(out)

    cropped = resize(IMAGES, crop_to_aspect_ratio=True)
    np.testing.assert_allclose(cropped, resize(IMAGES[:, 2:15]), rtol=1e-6)
    padded = resize(IMAGES, pad_to_aspect_ratio=True, fill_value=0.25)
    frame = np.pad(IMAGES, ((0, 0), (0, 0), (2, 2), (0, 0)), constant_values=0.25)
    np.testing.assert_allclose(padded, resize(frame), rtol=1e-6)


def test_resize_rejects_unknown_interpolation():
    with pytest.raises(ValueError, match=r"ops\.image\.resize expects interpolation"):
        ops.image.resize(IMAGES, (4, 4), interpolation="lanczos4")


# extract_patches_3d


@BOTH
@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 2},
        {"size": (2, 3, 2), "strides": 1},
        {"size": (3, 2, 2), "strides": (1, 2, 3), "padding": "same"},
        {"size": 2, "strides": 1, "dilation_rate": 2},
    ],
)
def test_extract_patches_3d_matches_keras(df, batched, kwargs):
    x = layout(VOLUMES, df, batched)
    ours = ops.image.extract_patches_3d(x, data_format=df, **kwargs)
    theirs = keras.ops.image.extract_patches_3d(x, data_format=df, **kwargs)
    assert_same(ours, theirs)


def test_extract_patches_with_three_sizes_extracts_from_volumes():
    ours = ops.image.extract_patches(VOLUMES, (2, 2, 3), data_format="channels_last")
    theirs = keras.ops.image.extract_patches(
        VOLUMES, (2, 2, 3), data_format="channels_last"
    )
    assert_same(ours, theirs)


def test_extract_patches_3d_rejects_bad_ranks_and_sizes():
    with pytest.raises(ValueError, match=r"extract_patches_3d expects volumes of rank"):
        ops.image.extract_patches_3d(IMAGES[0], 2)
    with pytest.raises(ValueError, match="size"):
        ops.image.extract_patches_3d(VOLUMES, (2, 2))


# elastic_transform


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_elastic_transform_is_seeded_and_keeps_shape_dtype_and_range(interpolation):
    out = ops.image.elastic_transform(
        IMAGES, interpolation=interpolation, seed=3, data_format="channels_last"
    )
    again = ops.image.elastic_transform(
        IMAGES, interpolation=interpolation, seed=3, data_format="channels_last"
    )
    other = ops.image.elastic_transform(
        IMAGES, interpolation=interpolation, seed=4, data_format="channels_last"
    )
    assert tuple(out.shape) == IMAGES.shape and out.dtype == torch.float32
    torch.testing.assert_close(out, again, rtol=0, atol=0)
    assert not torch.equal(out, other)
    assert not np.allclose(to_numpy(out), IMAGES)
    # "reflect" reads only image pixels: the values stay in the input's range.
    assert IMAGES.min() <= float(out.min()) and float(out.max()) <= IMAGES.max()


def test_elastic_transform_with_alpha_zero_returns_the_images():
    out = ops.image.elastic_transform(IMAGES, alpha=0.0, seed=1)
    np.testing.assert_array_equal(to_numpy(out), IMAGES)


def test_elastic_transform_moves_every_channel_alike_in_both_formats():
    x = np.repeat(IMAGES[..., :1], 3, axis=-1)
    last = to_numpy(ops.image.elastic_transform(x, seed=5, data_format="channels_last"))
    first = ops.image.elastic_transform(
        np.moveaxis(x, -1, 1).copy(), seed=5, data_format="channels_first"
    )
    np.testing.assert_allclose(last[..., 0], last[..., 2])
    np.testing.assert_allclose(np.moveaxis(to_numpy(first), 1, -1), last, atol=1e-6)
    single = ops.image.elastic_transform(x[0], seed=5, data_format="channels_last")
    assert tuple(single.shape) == x.shape[1:]


def test_elastic_transform_seed_generator_gives_new_reproducible_fields():
    fields = []
    for _ in range(2):
        gen = lamina.random.SeedGenerator(7)
        first = ops.image.elastic_transform(IMAGES, seed=gen)
        second = ops.image.elastic_transform(IMAGES, seed=gen)
        assert not torch.equal(first, second)
        fields.append(first)
    torch.testing.assert_close(fields[0], fields[1], rtol=0, atol=0)


def test_elastic_transform_keeps_integer_dtype_and_constant_fill():
    x = (IMAGES * 255).astype("uint8")
    out = ops.image.elastic_transform(
        x, alpha=60.0, sigma=2.0, fill_mode="constant", fill_value=7, seed=2
    )
    assert out.dtype == torch.uint8 and tuple(out.shape) == x.shape


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"interpolation": "bicubic"}, "interpolation='nearest' or 'bilinear'"),
        ({"fill_mode": "edge"}, "fill_mode in"),
        ({"sigma": 0.0}, "positive `sigma`"),
    ],
)
def test_elastic_transform_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=r"ops\.image\.elastic_transform.*" + match):
        ops.image.elastic_transform(IMAGES, **kwargs)


# Symbolic calls


SYMBOLIC = [
    ("gaussian_blur", lambda m, t: m.image.gaussian_blur(t), (None, 9, 9, 3)),
    ("sobel_edges", lambda m, t: m.image.sobel_edges(t), (None, 9, 8, 3)),
    ("ssim", lambda m, t: m.image.ssim(t, t, filter_size=3), (None, 9, 8, 3)),
    ("elastic", lambda m, t: m.image.elastic_transform(t, seed=1), (2, 9, 8, 3)),
    (
        "perspective",
        lambda m, t: m.image.perspective_transform(t, START, START),
        (None, 9, 8, 3),
    ),
    ("patches_3d", lambda m, t: m.image.extract_patches_3d(t, 2), (None, 4, 4, 4, 2)),
    ("lanczos", lambda m, t: m.image.resize(t, (5, 7), "lanczos3"), (None, 9, 8, 3)),
]


@pytest.mark.parametrize("name, fn, shape", SYMBOLIC, ids=[c[0] for c in SYMBOLIC])
def test_symbolic_calls_give_the_output_shape(name, fn, shape):
    ours = fn(ops, lamina.Input(batch_shape=shape))
    assert isinstance(ours, lamina.KerasTensor)
    if name == "lanczos":  # Keras's torch backend rejects Lanczos
        assert tuple(ours.shape) == (None, 5, 7, 3)
        return
    theirs = fn(keras.ops, keras.Input(batch_shape=shape))
    assert tuple(ours.shape) == tuple(theirs.shape)


def test_symbolic_elastic_transform_does_not_advance_the_seed_generator():
    gen = lamina.random.SeedGenerator(7)
    ops.image.elastic_transform(lamina.Input(batch_shape=(2, 9, 8, 3)), seed=gen)
    after_symbolic = ops.image.elastic_transform(IMAGES, seed=gen)
    fresh = ops.image.elastic_transform(IMAGES, seed=lamina.random.SeedGenerator(7))
    torch.testing.assert_close(after_symbolic, fresh, rtol=0, atol=0)
