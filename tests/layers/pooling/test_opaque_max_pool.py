"""The max-pooling operators compiled training graphs use: values and
gradients equal to ATen's, ties and uncovered edge rows included."""

import pytest
import torch
import torch.nn.functional as F

from lamina.layers.pooling import _opaque_max_pool as opaque

# torch.compile's own imports emit DeprecationWarnings (torch.jit.script_method).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 9, 7)], ids=["even", "odd"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_tiled_backward_routes_gradients_like_aten(shape, channels_last):
    generator = torch.Generator().manual_seed(0)
    # Rounded values make ties inside windows (as ReLU's zeros do).
    x = torch.randint(0, 3, shape, generator=generator).float()
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    out, indices = torch.ops.aten.max_pool2d_with_indices(x, [2, 2], [2, 2], [0, 0])
    grad = torch.randn(out.shape, generator=generator)
    expected = torch.ops.aten.max_pool2d_with_indices_backward(
        grad, x, [2, 2], [2, 2], [0, 0], [1, 1], False, indices
    )
    got = opaque._tiled_backward(grad, x, indices, [2, 2])
    assert got.shape == x.shape
    assert torch.equal(got, expected)


def test_opaque_ops_match_f_max_pool_under_compile_and_autograd():
    x = torch.randn(2, 4, 9, 9, requires_grad=True)

    def loss(pool):
        return (pool(x) * torch.arange(4.0).view(1, 4, 1, 1)).square().sum()

    expected = torch.autograd.grad(loss(lambda t: F.max_pool2d(t, 2)), x)[0]
    compiled = torch.compile(
        lambda: torch.autograd.grad(
            loss(lambda t: opaque.max_pool(t, (2, 2), (2, 2), (0, 0))), x
        )[0]
    )
    with torch._dynamo.config.patch(trace_autograd_ops=True):
        got = compiled()
    torch.testing.assert_close(got, expected)
    # Overlapping windows take the opaque ATen backward.
    overlapping = torch.autograd.grad(
        opaque.max_pool(x, (3, 3), (2, 2), (1, 1)).sum(), x
    )[0]
    reference = torch.autograd.grad(F.max_pool2d(x, 3, 2, 1).sum(), x)[0]
    assert torch.equal(overlapping, reference)
