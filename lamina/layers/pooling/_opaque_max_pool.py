"""Max pooling as two opaque operators for compiled graphs.

Inside a `torch.compile` graph, inductor replaces max pooling and its backward
with generated loops; on the CPU its backward is a scatter over the input that
took 12-32 ms per step on the benchmark CNN, against 4-8 ms for ATen's kernel,
making the compiled CNN step slower than the eager one (0.85x vs 1.17x with
these operators; see docs/performance.md). Registered as custom operators,
forward and backward stay ATen's kernels in the graph while everything around
them is still fused. Eager code calls ATen directly and never comes here.
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
    return max_pool_backward(grad, x, indices, *ctx.pooling), None, None, None


max_pool_with_indices.register_autograd(_backward, setup_context=_setup_context)


def max_pool(x, kernel, stride, padding):
    """`F.max_pool2d/3d(x, kernel, stride, padding)` through the opaque ops."""
    return max_pool_with_indices(x, list(kernel), list(stride), list(padding))[0]
