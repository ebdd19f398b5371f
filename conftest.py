"""Shared test set-up: every test runs on the CPU with fresh names and seeds."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_session():
    lamina.backend.clear_session()
    torch.manual_seed(0)
    np.random.seed(0)
    yield
    lamina.mixed_precision.set_global_policy(None)


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["lamina"] = lamina
    doctest_namespace["np"] = np
