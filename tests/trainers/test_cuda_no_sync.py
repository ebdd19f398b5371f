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


def test_numpy_batches_reach_the_gpu_without_a_host_sync():
    # A generator's NumPy batches are copied through pinned memory with
    # non_blocking=True: converting one queues the copy and returns.
    lamina.backend.set_device("cuda")
    try:
        batch = np.random.default_rng(0).random((256, 64), dtype=np.float32)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            tensor = lamina.backend.convert_to_tensor(batch)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert tensor.device.type == "cuda"
        np.testing.assert_array_equal(tensor.cpu().numpy(), batch)
    finally:
        lamina.backend.set_device(None)


def test_compiled_whole_step_on_cuda_matches_eager_without_host_syncs():
    lamina.backend.set_device("cuda")
    try:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((96, 16)).astype("float32")
        y = rng.integers(0, 4, 96)

        def build(jit_compile):
            lamina.utils.set_random_seed(0)
            model = lamina.Sequential(
                [
                    lamina.Input((16,)),
                    layers.Dense(32, "relu"),
                    layers.Dense(4, "softmax"),
                ]
            )
            model.compile(
                "adam",
                "sparse_categorical_crossentropy",
                metrics=["accuracy"],
                jit_compile=jit_compile,
            )
            return model

        eager, jit = build(False), build(True)
        jit.set_weights(eager.get_weights())
        eager.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        jit.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        assert jit._whole_step.ready, jit._whole_step.reason
        for a, b in zip(eager.get_weights(), jit.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        # Steady state: a compiled step queues its work and never waits.
        batch = (torch.as_tensor(x[:16], device="cuda"),)
        batch += (torch.as_tensor(y[:16], device="cuda"),)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            jit._whole_step([batch])
        finally:
            torch.cuda.set_sync_debug_mode("default")
    finally:
        lamina.backend.set_device(None)
