"""On CUDA, a training step never waits for the device (no hidden host syncs)."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU to check for host syncs"
)


def test_train_steps_make_no_host_sync_on_cuda():
    lamina.backend.set_device("cuda")
    try:
        model = lamina.Sequential(
            [lamina.Input((16,)), layers.Dense(32, "relu"), layers.Dense(4, "softmax")]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        x = torch.randn(64, 16, device="cuda")
        y = torch.randint(0, 4, (64,), device="cuda")
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # builds everything
        model._prepare_train_step((x[:16], y[:16]))
        model._trainable_params = model.trainable_weights
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for start in range(0, 64, 16):
                logs = model.train_step((x[start : start + 16], y[start : start + 16]))
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert np.isfinite(float(logs["loss"]))
    finally:
        lamina.backend.set_device(None)
