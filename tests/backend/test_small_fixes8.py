"""Small backend fixes of session 8."""

import numpy as np
import pytest
import torch

import lamina


def test_bfloat16_numpy_arrays_convert():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    array = np.arange(6, dtype=np.float32).reshape(2, 3).astype(ml_dtypes.bfloat16)
    tensor = lamina.backend.convert_to_tensor(array)
    assert tensor.dtype == torch.bfloat16
    np.testing.assert_array_equal(
        lamina.ops.convert_to_numpy(tensor.float()), np.arange(6).reshape(2, 3)
    )
    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    assert tuple(model(array).shape) == (2, 2)
