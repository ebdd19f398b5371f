"""Keras's own docstring examples run on lamina: regressions for the ops
where lamina's result differed from Keras 3 (torch backend)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lamina import ops  # noqa: E402

pytestmark = pytest.mark.usefixtures("values_on_cpu")


@pytest.mark.parametrize(
    "value", [[[1 + 3j, 2 - 5j], [4 - 3j, 3 + 2j]], 1 + 2j, [1.5, 2j]]
)
def test_python_complex_becomes_complex64(value):
    # Keras maps Python complex numbers to complex64 (as Python floats to
    # floatx); ops.angle of them is then float32, as in its docstring.
    x = ops.convert_to_tensor(value)
    assert x.dtype == torch.complex64
    assert ops.angle(x).dtype == torch.float32
    np.testing.assert_allclose(
        ops.angle(x).numpy(), np.angle(np.asarray(value)), rtol=1e-6
    )


def test_numpy_complex128_keeps_its_precision():
    x = ops.convert_to_tensor(np.array([1 + 2j, 3 - 1j]))
    assert x.dtype == torch.complex128
