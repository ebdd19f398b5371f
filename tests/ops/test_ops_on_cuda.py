import numpy as np
import pytest
import torch

from lamina import ops, utils

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"
)


def test_integer_matmul_and_dot_work_on_cuda():
    x = torch.arange(6, dtype=torch.int32, device="cuda").reshape(2, 3)
    out = ops.matmul(x, x.T)
    assert out.dtype == torch.int32 and out.device.type == "cuda"
    np.testing.assert_array_equal(out.cpu().numpy(), [[5, 14], [14, 50]])
    three_d = torch.ones((2, 3, 4), dtype=torch.int64, device="cuda")
    assert ops.dot(x.long(), three_d).shape == (2, 2, 4)


def test_numpy_operands_follow_the_tensor_to_its_device():
    x = torch.ones(3, device="cuda")
    assert ops.add(x, np.arange(3)).device.type == "cuda"
    assert ops.where(x > 0, np.zeros(3, "float32"), x).device.type == "cuda"


def test_labels_outside_the_range_do_not_trigger_device_asserts():
    labels = torch.tensor([0, 5, -1], device="cuda")
    assert ops.one_hot(labels, 3).sum().item() == 1
    data = torch.ones(3, 2, device="cuda")
    assert ops.segment_sum(data, labels, num_segments=2).sum().item() == 2


def test_set_random_seed_repeats_cuda_draws():
    utils.set_random_seed(0)
    first = torch.rand(8, device="cuda")
    utils.set_random_seed(0)
    assert torch.equal(first, torch.rand(8, device="cuda"))
