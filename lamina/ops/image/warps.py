"""Geometric warps of `keras.ops.image`: affine, perspective and elastic
transforms, `map_coordinates` and `scale_and_translate`. Affine warps run the
torch code of the random affine preprocessing layers."""

import functools
import itertools
import operator

import torch

from lamina import random
from lamina.backend.keras_tensor import KerasTensor
from lamina.backend.shape_inference import inferring
from lamina.layers.preprocessing import _base_image_layer
from lamina.ops._utils import Tensor, to_tensor
from lamina.ops.image._common import (
    _SCALE_KERNELS,
    _cast_back,
    _channels_last,
    _compute_dtype,
    _depthwise,
    _from_channels_last,
    _gaussian_1d,
    _images,
    _unbatch,
    _weight_matrix,
)
from lamina.ops.operation import op

_AFFINE_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


@op
def affine_transform(
    images,
    transform,
    interpolation: str = "bilinear",
    fill_mode: str = "constant",
    fill_value=0,
    data_format=None,
) -> Tensor:
    """Images warped by projective transforms `[a0, a1, a2, b0, b1, b2, c0, c1]`
    (one of shape `(8,)` or one per image `(batch, 8)`): output pixel `(x, y)`
    reads the input at `(a0 x + a1 y + a2, b0 x + b1 y + b2)` (the `c` terms
    are ignored, as in Keras's torch backend). `interpolation` is `"nearest"`
    or `"bilinear"`; `fill_mode` one of `"constant"` (with `fill_value`),
    `"nearest"`, `"wrap"`, `"mirror"`, `"reflect"`."""
    x, df, added = _images("affine_transform", images, data_format)
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(
            "ops.image.affine_transform expects interpolation='nearest' or "
            f"'bilinear'; got interpolation={interpolation!r}."
        )
    if fill_mode not in _AFFINE_FILL_MODES:
        raise ValueError(
            f"ops.image.affine_transform expects fill_mode in {_AFFINE_FILL_MODES}; "
            f"got fill_mode={fill_mode!r}."
        )
    transform = to_tensor(transform, device=x.device)
    if transform.ndim not in (1, 2) or transform.shape[-1] != 8:
        raise ValueError(
            "ops.image.affine_transform: Invalid transform rank: expected rank 1 "
            f"(one transform of shape (8,)) or rank 2 (batch, 8); got shape "
            f"{tuple(transform.shape)}."
        )
    if transform.ndim == 1:
        transform = transform.unsqueeze(0).expand(x.shape[0], 8)
    out = _base_image_layer.affine_transform(
        x, transform, interpolation, fill_mode, fill_value, data_format=df
    )
    return _unbatch(out, added)


def _mirror(index: Tensor, size: int) -> Tensor:
    # Reflection about the first and last pixel centres (period 2 (size - 1)).
    if size == 1:
        return torch.zeros_like(index)
    span = size - 1
    return torch.abs(torch.remainder(index + span, 2 * span) - span)


def _reflect(index: Tensor, size: int) -> Tensor:
    # Reflection about the image edges: mirror in a doubled, half-pixel grid.
    return torch.div(_mirror(2 * index + 1, 2 * size + 1) - 1, 2, rounding_mode="floor")


_INDEX_MAPS = {
    "constant": lambda index, size: torch.clamp(index, 0, size - 1),
    "nearest": lambda index, size: torch.clamp(index, 0, size - 1),
    "wrap": lambda index, size: torch.remainder(index, size),
    "mirror": _mirror,
    "reflect": _reflect,
}


@op
def map_coordinates(
    inputs, coordinates, order: int, fill_mode: str = "constant", fill_value=0
) -> Tensor:
    """`inputs` sampled at `coordinates` (shape `(inputs.ndim, ...)`: one array
    of positions per axis) by nearest (`order=0`) or linear (`order=1`)
    interpolation; positions outside follow `fill_mode` (`"constant"` with
    `fill_value`, `"nearest"`, `"wrap"`, `"mirror"`, `"reflect"`)."""
    x = to_tensor(inputs)
    coords = [to_tensor(c, device=x.device) for c in coordinates]
    if len(coords) != x.ndim:
        raise ValueError(
            "ops.image.map_coordinates expects one coordinate array per axis of "
            f"`inputs`: the first dim of `coordinates` must be the same as the "
            f"rank of `inputs` ({x.ndim}); got {len(coords)}."
        )
    if coords and coords[0].ndim < 1:
        raise ValueError(
            "ops.image.map_coordinates expects `coordinates` of rank >= 2 "
            f"(inputs.ndim, ...) (expected at least rank 2); got shape "
            f"({len(coords)},)."
        )
    if fill_mode not in _INDEX_MAPS:
        raise ValueError(
            f"ops.image.map_coordinates expects fill_mode in {tuple(_INDEX_MAPS)}; "
            f"got fill_mode={fill_mode!r}."
        )
    if order not in (0, 1):
        raise ValueError(
            f"ops.image.map_coordinates supports order 0 or 1; got order={order!r}."
        )
    fix = _INDEX_MAPS[fill_mode]
    per_axis = []
    for c, size in zip(coords, x.shape):
        if order == 0:
            c = c if not c.is_floating_point() else torch.round(c)
            nodes = [(c.to(torch.int64), 1)]
        else:
            lower = torch.floor(c.to(torch.float32) if not c.is_floating_point() else c)
            upper_weight = c - lower
            index = lower.to(torch.int64)
            nodes = [(index, 1 - upper_weight), (index + 1, upper_weight)]
        per_axis.append([(fix(i, size), (i >= 0) & (i < size), w) for i, w in nodes])
    result = 0
    for corner in itertools.product(*per_axis):
        indices, valid, weights = zip(*corner)
        value = x[indices]
        if fill_mode == "constant":
            value = torch.where(
                functools.reduce(operator.and_, valid), value, fill_value
            )
        result = result + functools.reduce(operator.mul, weights) * value
    if not x.is_floating_point():
        result = result if not result.is_floating_point() else torch.round(result)
    return result.to(x.dtype)


def _check_interpolation(name: str, interpolation) -> None:
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(
            f"ops.image.{name} expects interpolation='nearest' or 'bilinear'; "
            f"got interpolation={interpolation!r}."
        )


def _sample(x: Tensor, rows: Tensor, cols: Tensor, order: int, fill_mode, fill_value):
    """`(batch, height, width, channels)` images read at float positions `rows`,
    `cols` (each `(batch, h, w)`), as `map_coordinates` reads each image and
    channel: nearest (`order=0`) or bilinear (`order=1`), outside positions
    handled by `fill_mode`."""
    height, width = x.shape[1], x.shape[2]
    fix = _INDEX_MAPS[fill_mode]
    if not x.is_floating_point() and isinstance(fill_value, (int, float)):
        fill_value = int(fill_value)
    batch = torch.arange(x.shape[0], device=x.device).view(-1, 1, 1)

    def nodes(position):
        if order == 0:
            return [(torch.round(position).to(torch.int64), None)]
        lower = torch.floor(position)
        upper_weight = position - lower
        index = lower.to(torch.int64)
        return [(index, 1 - upper_weight), (index + 1, upper_weight)]

    result = 0
    for (row, row_w), (col, col_w) in itertools.product(nodes(rows), nodes(cols)):
        value = x[batch, fix(row, height), fix(col, width)]
        if fill_mode == "constant":
            inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
            value = torch.where(inside.unsqueeze(-1), value, fill_value)
        if order == 1:
            value = (row_w * col_w).unsqueeze(-1) * value
        result = result + value
    return _cast_back(result, x.dtype)


@op
def elastic_transform(
    images,
    alpha: float = 20.0,
    sigma: float = 5.0,
    interpolation: str = "bilinear",
    fill_mode: str = "reflect",
    fill_value=0.0,
    seed=None,
    data_format=None,
) -> Tensor:
    """Deforms images with a smooth random displacement field.

    Two fields of standard normal noise times `sigma` (one for rows, one for
    columns, the same for every channel) are blurred with a Gaussian of
    standard deviation `sigma` (kernel size `int(6 * sigma) | 1`), scaled by
    `alpha`, and each output pixel reads the input at its displaced position.
    `alpha=0` returns the images unchanged.

    Args:
        images: One image (rank 3) or a batch (rank 4).
        alpha: Strength of the displacement. Defaults to `20.0`.
        sigma: Smoothness of the displacement, a positive float. Defaults to
            `5.0`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        fill_mode: How positions outside the image read: `"reflect"` (default),
            `"constant"` (with `fill_value`), `"nearest"`, `"wrap"` or
            `"mirror"`.
        fill_value: The value read outside with `fill_mode="constant"`.
            Defaults to `0.0`.
        seed: An int (the same field every call), a `SeedGenerator` (a new
            field per call, reproducibly) or `None` (torch's global
            generator). Unlike Keras's JAX backend, the row and column fields
            are independent draws.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.

    Returns:
        The deformed images, with the input's shape and dtype.

    Raises:
        ValueError: For images that are not of rank 3 or 4, or a bad
            `sigma`, `interpolation` or `fill_mode`.
    """
    x, df, added = _images("elastic_transform", images, data_format)
    _check_interpolation("elastic_transform", interpolation)
    if fill_mode not in _AFFINE_FILL_MODES:
        raise ValueError(
            f"ops.image.elastic_transform expects fill_mode in "
            f"{_AFFINE_FILL_MODES}; got fill_mode={fill_mode!r}."
        )
    sigma, alpha = float(sigma), float(alpha)
    if not sigma > 0:
        raise ValueError(
            f"ops.image.elastic_transform expects a positive `sigma`; got "
            f"sigma={sigma!r}."
        )
    x = _channels_last(x, df)
    batch, height, width = x.shape[:3]
    dtype = _compute_dtype(x)
    # 1. Noise for rows and columns, smoothed by a Gaussian blur.
    shape = (2 * batch, 1, height, width)
    if inferring():
        # Shape inference: a SeedGenerator is not advanced, as in Keras.
        noise = torch.empty(shape, dtype=dtype, device=x.device)
    else:
        noise = random.normal(shape, dtype=dtype, seed=seed).to(x.device) * sigma
    size = int(6 * sigma) | 1
    kernel = _gaussian_1d(size, sigma, dtype, x.device)
    noise = _depthwise(noise, torch.outer(kernel, kernel), same=True)
    d_rows, d_cols = noise.view(2, batch, height, width)
    # 2. Each output pixel reads the input at its displaced position.
    rows = torch.arange(height, dtype=dtype, device=x.device)[:, None] + alpha * d_rows
    cols = torch.arange(width, dtype=dtype, device=x.device) + alpha * d_cols
    order = 0 if interpolation == "nearest" else 1
    out = _sample(x, rows, cols, order, fill_mode, fill_value)
    return _unbatch(_from_channels_last(out, df), added)


def _corner_points(name: str, points, device) -> Tensor:
    p = to_tensor(points, device=device)
    if p.ndim not in (2, 3) or tuple(p.shape[-2:]) != (4, 2):
        raise ValueError(
            f"ops.image.perspective_transform: Invalid {name} shape: expected "
            f"`{name}` of shape (4, 2) (four (x, y) corners) or (batch, 4, 2); "
            f"got shape {tuple(p.shape)}."
        )
    return p if p.ndim == 3 else p.unsqueeze(0)


def _homography(start: Tensor, end: Tensor) -> Tensor:
    """`(n, 8)` projective coefficients mapping each `end` corner onto its
    `start` corner: two linear equations per corner, solved exactly."""
    sx, sy = start.unbind(-1)
    ex, ey = end.unbind(-1)
    one, zero = torch.ones_like(ex), torch.zeros_like(ex)
    x_rows = torch.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], -1)
    y_rows = torch.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], -1)
    matrix = torch.stack([x_rows, y_rows], dim=2).reshape(-1, 8, 8)
    target = torch.stack([sx, sy], dim=2).reshape(-1, 8, 1)
    return torch.linalg.solve(matrix, target).squeeze(-1)


@op
def perspective_transform(
    images,
    start_points,
    end_points,
    interpolation: str = "bilinear",
    fill_value=0,
    data_format=None,
) -> Tensor:
    """Warps images so that the four `start_points` land on the `end_points`.

    Each output pixel `(x, y)` reads the input at the projective map of
    `(x, y)` that sends every end corner to its start corner; positions
    outside the image read `fill_value`.

    Args:
        images: One image (rank 3) or a batch (rank 4).
        start_points: Four `(x, y)` corners in the input, shape `(4, 2)` or
            one set per image `(batch, 4, 2)`.
        end_points: Where those corners go in the output, the same shape as
            `start_points`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        fill_value: The value read outside the image. Defaults to `0`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `image_data_format()`.

    Returns:
        The warped images, with the input's shape and dtype.

    Raises:
        ValueError: For images that are not of rank 3 or 4, corner points of
            the wrong shape, or a bad `interpolation`.
    """
    x, df, added = _images("perspective_transform", images, data_format)
    _check_interpolation("perspective_transform", interpolation)
    start = _corner_points("start_points", start_points, x.device)
    end = _corner_points("end_points", end_points, x.device)
    if start.shape != end.shape or start.shape[0] not in (1, x.shape[0]):
        raise ValueError(
            "ops.image.perspective_transform expects `start_points` and "
            "`end_points` of the same shape, with one set of corners or one per "
            f"image ({x.shape[0]}); got shapes {tuple(start.shape)} and "
            f"{tuple(end.shape)}."
        )
    # Points are solved in float32 (float64 for float64 images), as in Keras's
    # JAX backend: its torch backend first casts them to the images' dtype.
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    start, end = start.to(x.device, dtype), end.to(x.device, dtype)
    coeffs = _homography(start, end).expand(x.shape[0], 8)
    x = _channels_last(x, df)
    height, width = x.shape[1], x.shape[2]
    grid_y = torch.arange(height, dtype=dtype, device=x.device)[:, None]
    grid_x = torch.arange(width, dtype=dtype, device=x.device)
    a = coeffs[:, :, None, None]
    denom = a[:, 6] * grid_x + a[:, 7] * grid_y + 1.0
    cols = (a[:, 0] * grid_x + a[:, 1] * grid_y + a[:, 2]) / denom
    rows = (a[:, 3] * grid_x + a[:, 4] * grid_y + a[:, 5]) / denom
    order = 0 if interpolation == "nearest" else 1
    out = _sample(x, rows, cols, order, "constant", fill_value)
    return _unbatch(_from_channels_last(out, df), added)


def _scale_and_translate_output_spec(images, output_shape, *args, **kwargs):
    """An `output_shape` holding unknown sizes (`(None, 25, 25, 3)` for a batch
    of unknown size) is the output's symbolic shape, as in Keras; shape
    inference cannot run the op on it. Other calls go to shape inference."""
    if not (
        isinstance(images, KerasTensor)
        and isinstance(output_shape, (list, tuple))
        and None in output_shape
    ):
        return NotImplemented
    if len(output_shape) != images.ndim:
        raise ValueError(
            "ops.image.scale_and_translate expects `output_shape` with one size "
            f"per axis of `images` (shape {images.shape}); got "
            f"output_shape={output_shape!r}."
        )
    floating = images.dtype.startswith(("float", "bfloat"))
    dtype = images.dtype if floating else "float32"
    return KerasTensor(tuple(output_shape), dtype=dtype)


@op(output_spec=_scale_and_translate_output_spec)
def scale_and_translate(
    images,
    output_shape,
    scale,
    translation,
    spatial_dims,
    method: str,
    antialias: bool = True,
) -> Tensor:
    """Resamples `images` (any rank) onto `output_shape`, scaling and shifting
    the axes named by `spatial_dims`.

    Along spatial axis `spatial_dims[i]`, the input coordinate `u` (pixel
    centres at `index + 0.5`) lands at `u * scale[i] + translation[i]` in the
    output; each output pixel is interpolated from the input by `method`, and
    output pixels that map outside the input are zero. This is
    `jax.image.scale_and_translate`, which Keras's JAX backend calls.

    Args:
        images: A tensor of any rank.
        output_shape: The full output shape, one int per axis of `images`;
            axes not in `spatial_dims` keep their size.
        scale: One positive scale per spatial axis, shape `(K,)`.
        translation: One shift per spatial axis, shape `(K,)`.
        spatial_dims: `K` axes of `images` to resample.
        method: `"linear"` (or `"bilinear"`, `"trilinear"`, `"triangle"`),
            `"cubic"` (or `"bicubic"`, `"tricubic"`: the Keys kernel),
            `"lanczos3"` or `"lanczos5"`.
        antialias: Widen the kernel when downsampling, so that it averages
            rather than skips pixels. Defaults to `True`.

    Returns:
        The resampled tensor of shape `output_shape`: floating images keep
        their dtype, integer images give float32 (as in JAX; Keras's torch
        backend rounds them back instead).

    Raises:
        ValueError: For an unknown `method`, or `output_shape`, `scale`,
            `translation` and `spatial_dims` that do not fit `images`.
    """
    x = to_tensor(images)
    if method not in _SCALE_KERNELS:
        raise ValueError(
            f"ops.image.scale_and_translate expects method in "
            f"{tuple(_SCALE_KERNELS)}; got method={method!r}."
        )
    try:
        out_shape = tuple(int(d) for d in output_shape)
        dims = tuple(int(d) % x.ndim for d in spatial_dims)
    except (TypeError, ValueError, ZeroDivisionError):
        out_shape, dims = None, None
    if out_shape is None or len(out_shape) != x.ndim or any(d < 0 for d in out_shape):
        raise ValueError(
            "ops.image.scale_and_translate expects `output_shape` with one "
            f"non-negative int per axis of `images` (shape {tuple(x.shape)}) and "
            f"`spatial_dims` as ints; got output_shape={output_shape!r}, "
            f"spatial_dims={spatial_dims!r}."
        )
    kept = [a for a in range(x.ndim) if a not in dims]
    if any(out_shape[a] != x.shape[a] for a in kept):
        raise ValueError(
            "ops.image.scale_and_translate can only resize the axes in "
            f"`spatial_dims` ({spatial_dims!r}); got output_shape={out_shape} for "
            f"images of shape {tuple(x.shape)}."
        )
    scale = to_tensor(scale, device=x.device)
    translation = to_tensor(translation, device=x.device)
    if scale.shape != (len(dims),) or translation.shape != (len(dims),):
        raise ValueError(
            "ops.image.scale_and_translate expects `scale` and `translation` "
            f"with one value per spatial dim ({len(dims)}); got shapes "
            f"{tuple(scale.shape)} and {tuple(translation.shape)}."
        )
    dtype = torch.promote_types(scale.dtype, translation.dtype)
    dtype = dtype if dtype.is_floating_point else torch.float32
    scale, translation = scale.to(x.device, dtype), translation.to(x.device, dtype)
    if not x.is_floating_point():
        x = x.to(torch.float32)
    kernel = _SCALE_KERNELS[method]
    for i, axis in enumerate(dims):
        weights = _weight_matrix(
            x.shape[axis], out_shape[axis], scale[i], translation[i], kernel, antialias
        ).to(x.dtype)
        x = torch.movedim(torch.tensordot(x, weights, dims=([axis], [0])), -1, axis)
    return x
