import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from lamina import regularizers  # noqa: E402
from lamina.backend import convert_to_numpy  # noqa: E402

WEIGHT = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")

CASES = [
    ("L1", {}),
    ("L1", {"l1": 0.3}),
    ("L2", {}),
    ("L2", {"l2": 0.7}),
    ("L1L2", {}),
    ("L1L2", {"l1": 0.1, "l2": 0.2}),
    ("OrthogonalRegularizer", {}),
    ("OrthogonalRegularizer", {"factor": 0.5, "mode": "columns"}),
]


def test_public_names_match_keras():
    keras_names = {n for n in dir(keras.regularizers) if not n.startswith("_")}
    assert set(regularizers.__all__) == keras_names


@pytest.mark.parametrize("name, kwargs", CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_penalty_equals_keras(name, kwargs, dtype):
    weight = WEIGHT.astype(dtype)
    ours = convert_to_numpy(
        getattr(regularizers, name)(**kwargs)(torch.as_tensor(weight))
    )
    theirs = convert_to_numpy(
        getattr(keras.regularizers, name)(**kwargs)(torch.as_tensor(weight))
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("name, kwargs", CASES)
def test_config_equals_keras(name, kwargs):
    ours = regularizers.serialize(getattr(regularizers, name)(**kwargs))
    theirs = keras.regularizers.serialize(getattr(keras.regularizers, name)(**kwargs))
    assert ours == theirs
    assert regularizers.serialize(regularizers.deserialize(theirs)) == theirs


@pytest.mark.parametrize("name", ["l1", "l2", "l1l2", "orthogonal_regularizer"])
def test_string_defaults_equal_keras(name):
    ours = regularizers.serialize(regularizers.get(name))
    theirs = keras.regularizers.serialize(keras.regularizers.get(name))
    assert ours == theirs
