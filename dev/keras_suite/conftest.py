"""pytest set-up for Keras's own tests run against lamina (see README.md).

Loaded from the folder `run.sh` copies the tests into: it installs the shim
before any test module imports `keras`.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import kshim  # noqa: E402

kshim.install()

import pytest  # noqa: E402


def pytest_configure(config):
    for marker in ("requires_trainable_backend", "multi_device"):
        config.addinivalue_line("markers", marker)


def skip_if_backend(given_backend, reason):
    """Keras's conftest helper: skip where the backend is `given_backend`."""
    return pytest.mark.skipif(given_backend == "torch", reason=reason)
