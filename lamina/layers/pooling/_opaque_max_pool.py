"""Max pooling for compiled training graphs: ATen's kernels forward, a
fusable gradient backward.

Inside a `torch.compile` graph, inductor replaces max pooling and its backward
with generated loops; on the CPU its backward is a scatter over the input that
took 12-32 ms per step on the benchmark CNN, against 4-8 ms for ATen's kernel,
making the compiled CNN step slower than the eager one. Here the forward is a
custom operator that runs ATen's kernel and returns its indices. Its gradient,
for non-overlapping 2-D windows (the usual 2x2 pooling), is written as
element-wise ops on those indices, which inductor fuses with the ReLU backward
next to it: no zero-fill and no scatter (bench CNN compiled step 1.1x -> 1.5x
the hand-written loop). Other windows use ATen's backward as a second custom
operator. Eager code calls ATen directly and never comes here.
"""

import torch

_ATEN = {
    2: (torch.ops.aten.max_pool2d_with_indices, torch.ops.aten.max_pool2d_with_indices_backward),
    3: (torch.ops.aten.max_pool3d_with_indices, torch.ops.aten.max_pool3d_with_indices_backward),
}  # fmt: skip


@torch.library.custom_op(
    "lamina::max_pool_with_indices", mutates_args=(), tags=(torch.Tag.flexible_layout,)
)
def max_pool_with_indices(
    x: torch.Tensor, kernel: list[int], stride: list[int], padding: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """ATen's max pooling of a `(batch, channels, *spatial)` tensor, with the
    indices its backward needs."""
    forward, _ = _ATEN[len(kernel)]
    return forward(x, kernel, stride, padding)


@max_pool_with_indices.register_fake
def _(x, kernel, stride, padding):
    forward, _ = _ATEN[len(kernel)]
    return forward(x, kernel, stride, padding)  # shapes from ATen's meta kernel


@torch.library.custom_op(
    "lamina::max_pool_backward", mutates_args=(), tags=(torch.Tag.flexible_layout,)
)
def max_pool_backward(
    grad: torch.Tensor,
    x: torch.Tensor,
    indices: torch.Tensor,
    kernel: list[int],
    stride: list[int],
    padding: list[int],
) -> torch.Tensor:
    """The gradient of `max_pool_with_indices` with respect to `x`."""
    _, backward = _ATEN[len(kernel)]
    dilation = [1] * len(kernel)
    return backward(grad, x, kernel, stride, padding, dilation, False, indices)


@max_pool_backward.register_fake
def _(grad, x, indices, kernel, stride, padding):
    _, backward = _ATEN[len(kernel)]
    dilation = [1] * len(kernel)
    return backward(grad, x, kernel, stride, padding, dilation, False, indices)


def _setup_context(ctx, inputs, output):
    x, kernel, stride, padding = inputs
    ctx.save_for_backward(x, output[1])
    ctx.pooling = (kernel, stride, padding)


def _backward(ctx, grad, _grad_indices):
    x, indices = ctx.saved_tensors
    kernel, stride, padding = ctx.pooling
    if len(kernel) == 2 and list(kernel) == list(stride) and not any(padding):
        return _tiled_backward(grad, x, indices, kernel), None, None, None
    return max_pool_backward(grad, x, indices, *ctx.pooling), None, None, None


def _tiled_backward(grad, x, indices, kernel):
    """Max pooling's gradient for non-overlapping windows, as element-wise
    ops the compiler fuses with its neighbours (no zero-fill, no scatter):
    each input position takes its window's gradient if the forward's index
    points at it. The same routing as ATen's backward, ties included."""
    batch, channels, height, width = x.shape
    (kh, kw), (rows, cols) = kernel, grad.shape[2:]

    def spread(t):  # (N, C, rows, cols) -> (N, C, rows*kh, cols*kw)
        t = t[:, :, :, None, :, None].expand(batch, channels, rows, kh, cols, kw)
        return t.reshape(batch, channels, rows * kh, cols * kw)

    position = torch.arange(height * width, device=x.device).view(height, width)
    position = position[: rows * kh, : cols * kw]
    result = torch.where(spread(indices) == position, spread(grad), 0.0)
    if rows * kh < height or cols * kw < width:  # rows no window covers
        result = torch.nn.functional.pad(
            result, (0, width - cols * kw, 0, height - rows * kh)
        )
    return result.to(x.dtype)


max_pool_with_indices.register_autograd(_backward, setup_context=_setup_context)


def max_pool(x, kernel, stride, padding):
    """`F.max_pool2d/3d(x, kernel, stride, padding)` through the opaque ops."""
    return max_pool_with_indices(x, list(kernel), list(stride), list(padding))[0]
