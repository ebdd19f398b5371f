"""`DynamicBackend`, Keras's `layer.backend` of data layers (KerasHub's Stable
Diffusion 3 rescaling layers call `self.backend.cast(...)` through it)."""

import copy

import numpy as np
import pytest
import torch

from lamina.backend.dynamic_backend import DynamicBackend


def test_name_defaults_to_the_configured_backend_and_switches():
    b = DynamicBackend()
    assert b.name == "torch" and b._backend == "torch"
    b.set_backend("tensorflow")  # Keras does this inside tf.data pipelines
    assert b.name == "tensorflow"
    b.reset()
    assert b.name == "torch"
    assert DynamicBackend("jax").name == "jax"


def test_set_backend_rejects_unknown_names_like_keras():
    with pytest.raises(ValueError, match="Received: backend=mlx"):
        DynamicBackend().set_backend("mlx")


def test_core_functions_compute_with_lamina_ops():
    b = DynamicBackend()
    x = b.cast(np.array([1.7, -2.2], "float32"), "int32")
    assert x.dtype == torch.int32 and x.tolist() == [1, -2]
    assert tuple(b.shape(b.convert_to_tensor(np.zeros((2, 3))))) == (2, 3)
    np.testing.assert_array_equal(b.convert_to_numpy(b.convert_to_tensor([1.5])), [1.5])
    assert b.is_tensor(torch.ones(1)) and not b.is_tensor(1.0)
    # The value does not depend on the backend name: one engine.
    b.set_backend("tensorflow")
    assert float(b.cast(2.5, "float32")) == 2.5


def test_submodules_match_keras_backend_layout():
    b = DynamicBackend()
    np.testing.assert_array_equal(
        b.convert_to_numpy(
            b.numpy.clip(b.convert_to_tensor([-1.0, 0.5, 3.0]), 0.0, 1.0)
        ),
        [0.0, 0.5, 1.0],
    )
    u = b.random.uniform((4,), minval=2.0, maxval=3.0, seed=1)
    assert tuple(u.shape) == (4,) and bool(((u >= 2) & (u < 3)).all())
    assert tuple(b.core.shape(torch.zeros(2, 5))) == (2, 5)
    relu = b.nn.relu(torch.tensor([-1.0, 2.0]))
    assert relu.tolist() == [0.0, 2.0]
    assert b.image is not None and b.linalg is not None and b.math is not None
    assert b.SUPPORTS_SPARSE_TENSORS is False and b.IS_THREAD_SAFE is True


def test_unknown_attribute_and_copy():
    b = DynamicBackend()
    with pytest.raises(AttributeError, match="no attribute 'not_an_op'"):
        getattr(b, "not_an_op")  # noqa: B009
    c = copy.deepcopy(b)
    assert c.name == "torch" and c.cast(1, "int8").dtype == torch.int8
