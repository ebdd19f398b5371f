"""Differences from Keras found by running Keras's ops tests on lamina
(session 10): the exception type for a bad `kth` of `argpartition`."""

import numpy as np
import pytest
import torch

from lamina import KerasTensor, ops


@pytest.mark.parametrize("kth", [(1, 2), 1.5, "1"])
def test_argpartition_refuses_a_kth_that_is_not_an_int(kth):
    with pytest.raises(ValueError, match="kth must be an integer"):
        ops.argpartition(np.array([3, 1, 2]), kth)
    with pytest.raises(ValueError, match="kth must be an integer"):
        ops.argpartition(KerasTensor((None, 3)), kth)


@pytest.mark.parametrize("kth", [1, np.int64(1), torch.tensor(1)])
def test_argpartition_takes_integer_kth_of_any_kind(kth):
    x = np.array([[3, 1, 2], [0, 5, 4]])
    out = ops.argpartition(x, kth)
    # The element at position kth is the one sorting puts there.
    picked = np.take_along_axis(x, ops.convert_to_numpy(out), axis=-1)[:, 1]
    np.testing.assert_array_equal(picked, np.sort(x, axis=-1)[:, 1])
    assert ops.argpartition(KerasTensor((None, 3)), kth).shape == (None, 3)
