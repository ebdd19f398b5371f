"""Every op of `lamina.ops` computes on the device of its inputs (or, for ops
that create tensors, on lamina's device) and never makes a CPU tensor that
meets them, which on a GPU would fail or copy. The `meta` device stands in for
CUDA: its tensors have no data, so a CPU tensor, `.item()`, `.tolist()` or a
NumPy round trip inside an op raises. Each op runs first on the CPU (the call is
valid) and then on `meta`, where every tensor it returns must be.

Not here, because they cannot run on `meta` for reasons that do not apply to a
GPU: ops whose output size depends on values (`nonzero`, `unique`, one-argument
`where`, `segment_*` without `num_segments`, and `bincount` even with
`minlength`, whose length is `max(minlength, max(x) + 1)`); ops whose torch
kernel has no meta implementation (`lstsq`: aten::linalg_lstsq; `ctc_loss`:
aten::_ctc_loss; `corrcoef` and `istft`: torch.corrcoef and torch.istft call
aten::equal, and torch.istft checks its window's overlap-add on the host);
`cond`/`while_loop`/`switch` on a tensor predicate (Python control flow reads
the value, as in Keras's torch backend); `convert_to_numpy` (a copy to the host
by definition); and beam-search `ctc_decode` (it runs on the host in lamina;
greedy decoding is tested here)."""

import types

import pytest
import torch

import lamina
from lamina import ops


def _tensors(device):
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return (torch.rand(*shape, generator=g) * 0.8 + 0.1).to(device)

    def ri(*shape, high=4):
        return torch.randint(0, high, shape, generator=g).to(device)

    sq = r(3, 3)
    return types.SimpleNamespace(
        x=r(3, 4),
        y=r(3, 4),
        i=ri(3, 4),
        j=ri(3, 4),
        v=r(4),
        sorted_v=torch.sort(r(4)).values,
        sq=sq @ sq.T + 3 * torch.eye(3).to(device),
        b=r(3, 4) > 0.5,
        img=r(2, 8, 8, 3),
        seq=r(2, 6, 3),
        signal=r(2, 64),
        ids=torch.tensor([0, 0, 1, 2]).to(device),
        complex=torch.complex(r(3, 4), r(3, 4)),
    )


UNARY = """abs absolute all amax amin angle any argmax argmin argsort array average
cbrt ceil celu conj conjugate convert_to_tensor copy cos cosh count_nonzero cumprod
cumsum deg2rad diag diagflat diagonal diff elu empty_like erf erfc erfinv exp exp2
expm1 fabs flip fliplr flipud floor gelu glu hard_shrink hard_sigmoid hard_silu
hard_swish hard_tanh i0 imag isfinite isinf isnan isneginf isposinf isreal
layer_normalization leaky_relu log log10 log1p log2 log_sigmoid log_softmax
logical_not logsumexp lu_factor matrix_rank max mean median min nan_to_num nanargmax
nanargmin nancumprod nancumsum nanmax nanmean nanmedian nanmin nanprod nanstd nansum
nanvar negative norm normalize ones_like pinv prod ptp qr rad2deg ravel real
reciprocal relu relu6 rfft rms_normalization rot90 round rsqrt selu sigmoid sign
signbit silu sin sinc sinh size soft_shrink softmax softplus softsign sort sparse_plus
sparse_sigmoid sparsemax sqrt square squareplus squeeze std stop_gradient sum svd swish
tan tanh tanh_shrink trace transpose trapezoid tril triu trunc unstack var view
zeros_like""".split()
BINARY = """add allclose append arctan2 binary_crossentropy categorical_crossentropy
cdist divide divide_no_nan equal floor_divide fmax fmin fmod full_like geomspace greater
greater_equal heaviside hypot inner isclose isin kron less less_equal linspace
logaddexp logaddexp2 logical_and logical_or logical_xor logspace maximum minimum mod
multiply nextafter not_equal outer polar power subtract tensordot true_divide
vdot""".split()
INTEGER = """bitwise_and bitwise_left_shift bitwise_or bitwise_right_shift bitwise_xor
gcd lcm left_shift right_shift""".split()
SQUARE = "cholesky cholesky_inverse det eig eigh inv logdet slogdet".split()

CASES = {
    **{name: (lambda f: lambda t: f(t.x))(getattr(ops, name)) for name in UNARY},
    **{name: (lambda f: lambda t: f(t.x, t.y))(getattr(ops, name)) for name in BINARY},
    **{name: (lambda f: lambda t: f(t.i, t.j))(getattr(ops, name)) for name in INTEGER},
    **{name: (lambda f: lambda t: f(t.sq))(getattr(ops, name)) for name in SQUARE},
    "arccos": lambda t: ops.arccos(t.x),
    "arccosh": lambda t: ops.arccosh(t.x + 1),
    "arcsin": lambda t: ops.arcsin(t.x),
    "arcsinh": lambda t: ops.arcsinh(t.x),
    "arctan": lambda t: ops.arctan(t.x),
    "arctanh": lambda t: ops.arctanh(t.x),
    "bitwise_invert": lambda t: ops.bitwise_invert(t.i),
    "bitwise_not": lambda t: ops.bitwise_not(t.i),
    "argpartition": lambda t: ops.argpartition(t.x, 1),
    "array_split": lambda t: ops.array_split(t.x, 3, axis=1),
    "split": lambda t: ops.split(t.x, 2, axis=1),
    "hsplit": lambda t: ops.hsplit(t.x, 2),
    "vsplit": lambda t: ops.vsplit(t.x, 3),
    "dsplit": lambda t: ops.dsplit(t.img, 2),
    "clip": lambda t: ops.clip(t.x, 0.2, 0.7),
    "threshold": lambda t: ops.threshold(t.x, 0.5, 0.0),
    "correlate": lambda t: ops.correlate(t.v, t.v, mode="full"),
    "cross": lambda t: ops.cross(t.sq, t.sq),
    "digitize": lambda t: ops.digitize(t.v, [0.25, 0.5, 0.75]),
    "searchsorted": lambda t: ops.searchsorted(t.sorted_v, t.v),
    "dot": lambda t: ops.dot(t.x, t.y.T),
    "matmul": lambda t: ops.matmul(t.x, t.y.T),
    "einsum": lambda t: ops.einsum("ij,kj->ik", t.x, t.y),
    "expand_dims": lambda t: ops.expand_dims(t.x, 1),
    "broadcast_to": lambda t: ops.broadcast_to(t.v, (3, 4)),
    "reshape": lambda t: ops.reshape(t.x, (4, 3)),
    "moveaxis": lambda t: ops.moveaxis(t.x, 0, 1),
    "swapaxes": lambda t: ops.swapaxes(t.x, 0, 1),
    "repeat": lambda t: ops.repeat(t.x, 2, axis=0),
    "tile": lambda t: ops.tile(t.x, (2, 1)),
    "roll": lambda t: ops.roll(t.x, 1, axis=1),
    "pad": lambda t: ops.pad(t.x, 1, constant_values=2),
    "take": lambda t: ops.take(t.x, t.ids, axis=1),
    "take_along_axis": lambda t: ops.take_along_axis(t.x, t.i, axis=1),
    "get_item": lambda t: t.x[1:, t.ids[:2]],
    "stack": lambda t: ops.stack([t.x, t.y]),
    "hstack": lambda t: ops.hstack([t.x, t.y]),
    "vstack": lambda t: ops.vstack([t.x, t.y]),
    "dstack": lambda t: ops.dstack([t.x, t.y]),
    "concatenate": lambda t: ops.concatenate([t.x, t.y], axis=-1),
    "meshgrid": lambda t: ops.meshgrid(t.v, t.v),
    "vander": lambda t: ops.vander(t.v),
    "histogram": lambda t: ops.histogram(t.v, bins=3),
    "percentile": lambda t: ops.percentile(t.x, 50.0, axis=1),
    "quantile": lambda t: ops.quantile(t.x, [0.25, 0.5]),
    "nanpercentile": lambda t: ops.nanpercentile(t.x, 50.0),
    "nanquantile": lambda t: ops.nanquantile(t.x, 0.5, axis=0),
    "moments": lambda t: ops.moments(t.x, axes=[0]),
    "one_hot": lambda t: ops.one_hot(t.i, 4),
    "multi_hot": lambda t: ops.multi_hot(t.i, 4),
    "top_k": lambda t: ops.top_k(t.x, 2),
    "in_top_k": lambda t: ops.in_top_k(t.ids[:3], t.x, 2),
    "unravel_index": lambda t: ops.unravel_index(t.i, (4, 4)),
    "ldexp": lambda t: ops.ldexp(t.x, t.i),
    "view_as_complex": lambda t: ops.view_as_complex(t.x.reshape(3, 2, 2)),
    "view_as_real": lambda t: ops.view_as_real(t.complex),
    "fft": lambda t: ops.fft((t.x, t.y)),
    "fft2": lambda t: ops.fft2((t.x, t.y)),
    "ifft2": lambda t: ops.ifft2((t.x, t.y)),
    "irfft": lambda t: ops.irfft((t.x, t.y), fft_length=6),
    "stft": lambda t: ops.stft(t.signal, 16, 8, 16),
    "extract_sequences": lambda t: ops.extract_sequences(t.signal, 16, 8),
    "saturate_cast": lambda t: ops.saturate_cast(t.x * 300, "uint8"),
    "cast": lambda t: ops.cast(t.x, "float16"),
    "scatter": lambda t: ops.scatter(t.i[:, :2], t.v[:3], (4, 4)),
    "scatter_update": lambda t: ops.scatter_update(t.x, [[0, 1], [2, 3]], t.v[:2]),
    "slice": lambda t: ops.slice(t.x, (1, 1), (2, 2)),
    "slice_update": lambda t: ops.slice_update(t.x, (1, 1), t.y[:2, :2]),
    "select": lambda t: ops.select([t.b, ~t.b], [t.x, t.y], default=0.5),
    "where": lambda t: ops.where(t.b, t.x, 0.5),
    "segment_sum": lambda t: ops.segment_sum(t.v, t.ids, num_segments=3),
    "segment_max": lambda t: ops.segment_max(t.v, t.ids, num_segments=3),
    "segment_min": lambda t: ops.segment_min(t.v, t.ids, num_segments=3),
    "segment_prod": lambda t: ops.segment_prod(t.v, t.ids, num_segments=3),
    "sparse_categorical_crossentropy": lambda t: ops.sparse_categorical_crossentropy(
        t.ids[:3], t.x
    ),
    "ctc_decode": lambda t: ops.ctc_decode(t.seq, t.ids[1:3] + 5),
    "psnr": lambda t: ops.psnr(t.x, t.y, 1.0),
    "batch_normalization": lambda t: ops.batch_normalization(
        t.x, t.v, t.v, axis=-1, offset=t.v, scale=t.v
    ),
    "dot_product_attention": lambda t: ops.dot_product_attention(
        t.img, t.img, t.img, is_causal=True
    ),
    "rearrange": lambda t: ops.rearrange(t.img, "b h w c -> b c (h w)"),
    "depth_to_space": lambda t: ops.depth_to_space(t.img.repeat(1, 1, 1, 4), 2),
    "space_to_depth": lambda t: ops.space_to_depth(t.img, 2),
    "unfold": lambda t: ops.unfold(t.img.permute(0, 3, 1, 2), 2),
    "fold": lambda t: ops.fold(ops.unfold(t.img.permute(0, 3, 1, 2), 2), (8, 8), 2),
    "conv": lambda t: ops.conv(t.seq, t.sq.reshape(1, 3, 3)),
    "conv_transpose": lambda t: ops.conv_transpose(t.seq, t.sq.reshape(1, 3, 3), 2),
    "depthwise_conv": lambda t: ops.depthwise_conv(t.seq, t.sq.reshape(3, 3, 1)),
    "separable_conv": lambda t: ops.separable_conv(
        t.seq, t.sq.reshape(3, 3, 1), t.sq.reshape(1, 3, 3)
    ),
    "max_pool": lambda t: ops.max_pool(t.img, 2),
    "average_pool": lambda t: ops.average_pool(t.img, 3, 2, padding="same"),
    "adaptive_average_pool": lambda t: ops.adaptive_average_pool(t.img, (3, 3)),
    "adaptive_max_pool": lambda t: ops.adaptive_max_pool(t.img, (3, 3)),
    "map": lambda t: ops.map(lambda row: row * 2, t.x),
    "vectorized_map": lambda t: ops.vectorized_map(lambda row: row.sum(), t.x),
    "vectorize": lambda t: ops.vectorize(lambda a, b: a + b)(t.x, t.y),
    "scan": lambda t: ops.scan(lambda c, e: (c + e, c * e), t.v[0], t.v),
    "associative_scan": lambda t: ops.associative_scan(ops.add, t.x, axis=1),
    "fori_loop": lambda t: ops.fori_loop(0, 3, lambda i, v: v + i, t.x),
    "cond": lambda t: ops.cond(True, lambda: t.x, lambda: t.y),
    "switch": lambda t: ops.switch(1, [lambda a: a, lambda a: -a], t.x),
    "custom_gradient": lambda t: ops.custom_gradient(
        lambda a: (a * 2, lambda upstream: upstream * 2)
    )(t.x),
    "jvp": lambda t: ops.jvp(ops.sin, (t.x,), (t.y,)),
    "solve": lambda t: ops.solve(t.sq, t.x[:, :3]),
    "solve_triangular": lambda t: ops.solve_triangular(t.sq, t.x[:, :3], lower=True),
    # creation ops: on lamina's device
    "arange": lambda t: ops.arange(3),
    "arange-floats": lambda t: ops.arange(0.0, 2.0, 0.5),
    "zeros": lambda t: ops.zeros((3, 4)),
    "ones": lambda t: ops.ones((3, 4), dtype="int32"),
    "empty": lambda t: ops.empty((3, 4)),
    "full": lambda t: ops.full((3, 4), 2.0),
    "eye": lambda t: ops.eye(3, 4, k=1),
    "identity": lambda t: ops.identity(3),
    "tri": lambda t: ops.tri(3, 4, k=-1),
    "linspace-numbers": lambda t: ops.linspace(0.0, 1.0, 5),
    "logspace-numbers": lambda t: ops.logspace(0.0, 1.0, 5),
    "geomspace-numbers": lambda t: ops.geomspace(1.0, 8.0, 4),
    "bartlett": lambda t: ops.bartlett(5),
    "blackman": lambda t: ops.blackman(5),
    "hamming": lambda t: ops.hamming(5),
    "hanning": lambda t: ops.hanning(5),
    "kaiser": lambda t: ops.kaiser(5, 4.0),
}
IMAGE_CASES = {
    "resize": lambda t: ops.image.resize(t.img, (4, 5)),
    "resize-crop": lambda t: ops.image.resize(t.img, (4, 6), crop_to_aspect_ratio=True),
    "resize-pad": lambda t: ops.image.resize(t.img, (4, 6), pad_to_aspect_ratio=True),
    "resize-bicubic-antialias": lambda t: ops.image.resize(
        t.img, (4, 4), interpolation="bicubic", antialias=True
    ),
    "affine_transform": lambda t: ops.image.affine_transform(
        t.img, t.v.new_tensor([[1.0, 0, 1, 0, 1, 0, 0, 0]] * 2)
    ),
    "perspective_transform": lambda t: ops.image.perspective_transform(
        t.img,
        t.v.new_tensor([[[0.0, 0], [7, 0], [0, 7], [7, 7]]] * 2),
        t.v.new_tensor([[[1.0, 0], [6, 1], [0, 6], [7, 7]]] * 2),
    ),
    "crop_images": lambda t: ops.image.crop_images(t.img, 1, 1, 5, 5),
    "pad_images": lambda t: ops.image.pad_images(t.img, 1, 1, 10, 10),
    "extract_patches": lambda t: ops.image.extract_patches(t.img, 2),
    "extract_patches_3d": lambda t: ops.image.extract_patches_3d(
        t.img[..., None], (2, 2, 1)
    ),
    "rgb_to_grayscale": lambda t: ops.image.rgb_to_grayscale(t.img),
    "rgb_to_hsv": lambda t: ops.image.rgb_to_hsv(t.img),
    "hsv_to_rgb": lambda t: ops.image.hsv_to_rgb(t.img),
    "map_coordinates": lambda t: ops.image.map_coordinates(
        t.x, [t.i.float(), t.j.float()], 1
    ),
    "gaussian_blur": lambda t: ops.image.gaussian_blur(t.img),
    "elastic_transform": lambda t: ops.image.elastic_transform(t.img, seed=1),
    "scale_and_translate": lambda t: ops.image.scale_and_translate(
        t.img, (2, 4, 4, 3), t.v[:2] * 0 + 0.5, t.v[:2] * 0, [1, 2], "bilinear"
    ),
    "sobel_edges": lambda t: ops.image.sobel_edges(t.img),
    "ssim": lambda t: ops.image.ssim(t.img, t.img * 0.9, filter_size=3),
}
ALL = {**CASES, **{f"image.{k}": v for k, v in IMAGE_CASES.items()}}


def _devices(out):
    if isinstance(out, torch.Tensor):
        return {out.device.type}
    if isinstance(out, (list, tuple)):
        return set().union(*(_devices(o) for o in out))
    return set()


@pytest.fixture
def on_meta():
    yield lambda: lamina.backend.set_device("meta")
    lamina.backend.set_device(None)


@pytest.mark.parametrize("name", ALL.keys())
def test_op_computes_on_the_device_of_its_inputs(name, values_on_cpu, on_meta):
    # The valid call runs with lamina's device on the CPU too: the creation ops
    # (and those taking bounds, as geomspace) put their tensors there.
    call = ALL[name]
    assert _devices(call(_tensors("cpu"))) == {"cpu"}  # a valid call
    on_meta()
    assert _devices(call(_tensors("meta"))) == {"meta"}


def test_the_sweep_covers_every_op():
    skipped = {
        "nonzero", "unique", "lstsq", "corrcoef", "while_loop", "convert_to_numpy",
        "image", "is_tensor", "shape", "ndim", "dtype", "istft", "bincount",
        "ctc_loss",
    }  # fmt: skip
    assert set(ops.__all__) - set(CASES) - skipped == set()
    assert set(ops.image.__all__) - set(IMAGE_CASES) == set()
