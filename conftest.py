"""Shared test set-up: fresh names, seeds and precision policy for every test.

Tests run on lamina's default device: the CPU here, CUDA where a GPU is present
(`bench/cuda_check.sh` runs the suite there).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
# Keras, the reference of the parity tests, computes on the CPU also where a GPU
# is present (lamina computes there): its side reads its results as NumPy, and
# parity is about semantics, not devices.
os.environ.setdefault("KERAS_TORCH_DEVICE", "cpu")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402

# Tests check arithmetic against NumPy and Keras at float32 tolerances: on GPUs
# where torch defaults cuDNN convolutions to TF32 (10-bit mantissa), turn it off.
torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False

# Under pytest-xdist (`make test` runs one worker per core), each worker gets
# its share of the cores: torch's default of one thread per core in every
# worker would oversubscribe the machine.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    torch.set_num_threads(
        max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    )


@pytest.fixture(autouse=True)
def _fresh_session():
    lamina.backend.clear_session(free_memory=False)
    torch.manual_seed(0)
    np.random.seed(0)
    # Each test starts without set_random_seed's Keras-order default seeds
    # (a test that calls it would otherwise decide for every later test).
    lamina.utils.rng_utils._GLOBAL_RANDOM_SEED = None
    lamina.random.seed_generator.reset_global_seed_generator()
    yield
    lamina.mixed_precision.set_global_policy(None)


@pytest.fixture
def mixed_bf16():
    """The global dtype policy set to mixed_bfloat16 for one test."""
    previous = lamina.mixed_precision.global_policy()
    lamina.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    lamina.mixed_precision.set_global_policy(previous)


@pytest.fixture
def values_on_cpu():
    """lamina's device pinned to the CPU for one test: for value-parity tests
    that read results with `.numpy()` (their CUDA coverage lives in the
    `*_on_cuda` / `*_on_another_device` tests)."""
    lamina.backend.set_device("cpu")
    yield
    lamina.backend.set_device(None)


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace, request):
    doctest_namespace["lamina"] = lamina
    doctest_namespace["np"] = np
    # Docstring examples show CPU results (exact digits, CPU tensors built by
    # the example itself): on a GPU machine they still run on the CPU.
    doctest = isinstance(request.node, pytest.DoctestItem)
    if doctest:
        lamina.backend.set_device("cpu")
    yield
    if doctest:
        lamina.backend.set_device(None)
