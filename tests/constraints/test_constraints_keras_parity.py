import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from lamina import constraints  # noqa: E402
from lamina.backend import convert_to_numpy  # noqa: E402

WEIGHT = (np.random.default_rng(1).standard_normal((3, 3, 4, 5)) * 2).astype("float32")

CASES = [
    ("MaxNorm", {}),
    ("MaxNorm", {"max_value": 1.5, "axis": [0, 1, 2]}),
    ("NonNeg", {}),
    ("UnitNorm", {}),
    ("UnitNorm", {"axis": -1}),
    ("MinMaxNorm", {}),
    ("MinMaxNorm", {"min_value": 1.0, "max_value": 3.0, "rate": 0.4, "axis": 3}),
]


def test_public_names_match_keras():
    keras_names = {n for n in dir(keras.constraints) if not n.startswith("_")}
    assert set(constraints.__all__) == keras_names


@pytest.mark.parametrize("name, kwargs", CASES)
def test_projection_equals_keras(name, kwargs):
    ours = convert_to_numpy(
        getattr(constraints, name)(**kwargs)(torch.as_tensor(WEIGHT))
    )
    theirs = convert_to_numpy(
        getattr(keras.constraints, name)(**kwargs)(torch.as_tensor(WEIGHT))
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name, kwargs", CASES)
def test_config_equals_keras(name, kwargs):
    ours = constraints.serialize(getattr(constraints, name)(**kwargs))
    theirs = keras.constraints.serialize(getattr(keras.constraints, name)(**kwargs))
    assert ours == theirs
    assert constraints.serialize(constraints.deserialize(theirs)) == theirs
