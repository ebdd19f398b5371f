"""Max pooling with non-overlapping windows, taken as maxima of strided views
where no gradient is recorded, gives exactly `max_pool`'s values."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lamina import layers
from lamina.layers.pooling import _base_pooling


def _reference_nhwc(x, pool):
    return F.max_pool2d(x.permute(0, 3, 1, 2), pool).permute(0, 2, 3, 1)


@pytest.mark.parametrize("size", [26, 27, 11])
@pytest.mark.parametrize("pool", [(2, 2), (1, 2), (2, 1), (1, 3)])
def test_maxpooling2d_channels_last_equals_max_pool2d_without_grad(size, pool):
    x = torch.randn(64, size, size, 16, generator=torch.Generator().manual_seed(0))
    layer = layers.MaxPooling2D(pool)
    assert x.numel() >= _base_pooling._TILED_MAX_MIN_SIZE
    with torch.inference_mode():
        out = layer(x)
    expected = _reference_nhwc(x, pool)
    assert out.shape == expected.shape
    assert torch.equal(out.cpu(), expected)
    assert out.is_contiguous()


def test_maxpooling2d_channels_first_and_same_padding_without_pads_match():
    x = torch.randn(32, 16, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        first = layers.MaxPooling2D(data_format="channels_first")(x)
        same = layers.MaxPooling2D(padding="same")(x.permute(0, 2, 3, 1))
    assert torch.equal(first.cpu(), F.max_pool2d(x, 2))
    assert torch.equal(same.cpu(), F.max_pool2d(x, 2).permute(0, 2, 3, 1))


def test_maxpooling1d_equals_max_pool1d():
    x = torch.randn(128, 100, 32, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        out = layers.MaxPooling1D()(x)
    expected = F.max_pool1d(x.transpose(1, 2), 2).transpose(1, 2)
    assert torch.equal(out.cpu(), expected)


def test_tiled_max_propagates_nan_like_max_pool():
    x = torch.randn(64, 26, 26, 16)
    x[3, 4, 5, 6] = float("nan")
    x[7, 0, 0, 0] = float("-inf")
    with torch.inference_mode():
        out = layers.MaxPooling2D()(x)
    expected = _reference_nhwc(x, (2, 2))
    np.testing.assert_array_equal(out.cpu().numpy(), expected.numpy())
    assert torch.isnan(out[3, 2, 2, 6])


def test_tiled_max_is_not_used_where_gradients_are_recorded():
    # max_pool routes a tie's gradient to one element; maximum() would split it.
    x = torch.zeros(64, 26, 26, 16, requires_grad=True)
    out = layers.MaxPooling2D()(x)
    out.sum().backward()
    assert float(x.grad.sum()) == out.numel()
    assert float(x.grad.max()) == 1.0


def test_overlapping_or_large_windows_keep_torchs_kernel():
    assert not layers.MaxPooling2D(3)._tiled_max
    assert not layers.MaxPooling2D(2, strides=1)._tiled_max
    assert not layers.AveragePooling2D(2)._tiled_max
    assert layers.MaxPooling2D()._tiled_max
