import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from lamina import activations  # noqa: E402
from lamina.backend import convert_to_numpy  # noqa: E402

RNG = np.random.default_rng(0)
INPUT = (RNG.standard_normal((4, 6)) * 3).astype("float32")


def keras_numpy(t):
    # Keras (torch backend) returns torch tensors; its own converter warns
    # under NumPy 2.
    return convert_to_numpy(t)


def keras_public_names(module):
    return {n for n in dir(module) if not n.startswith("_")}


def test_public_names_match_keras():
    assert set(activations.__all__) == keras_public_names(keras.activations)


def test_lookup_table_matches_keras():
    from keras.src import activations as keras_src_activations

    assert set(activations.ALL_OBJECTS_DICT) == set(
        keras_src_activations.ALL_OBJECTS_DICT
    )


# sparsemax is left out: Keras 3.15's threshold is wrong once two or more
# entries are in the support (see test_activation_functions.py).
NAMES = sorted(
    n for n in activations.ALL_OBJECTS_DICT if n not in ("sparsemax", "threshold")
)


@pytest.mark.parametrize("name", NAMES)
def test_activation_matches_keras(name):
    ours = convert_to_numpy(activations.get(name)(INPUT))
    theirs = keras_numpy(keras.activations.get(name)(INPUT))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_serialized_name_matches_keras(name):
    ours = activations.serialize(activations.get(name))
    theirs = keras.activations.serialize(keras.activations.get(name))
    assert ours == theirs


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_value": 2.0},
        {"max_value": 6},
        {"negative_slope": 0.1},
        {"threshold": 0.5},
        {"threshold": -0.5, "max_value": 1.0},
        {"negative_slope": 0.3, "threshold": 1.0},
        {"negative_slope": 0.3, "max_value": 6},
        {"negative_slope": 0.2, "threshold": 0.5, "max_value": 2.0},
    ],
)
def test_relu_options_match_keras(kwargs):
    ours = convert_to_numpy(activations.relu(INPUT, **kwargs))
    theirs = keras_numpy(keras.activations.relu(INPUT, **kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("elu", {"alpha": 0.3}),
        ("celu", {"alpha": 2.0}),
        ("gelu", {"approximate": True}),
        ("leaky_relu", {"negative_slope": 0.05}),
        ("softmax", {"axis": 0}),
        ("softmax", {"axis": (0, 1)}),
        ("log_softmax", {"axis": 0}),
        ("log_softmax", {"axis": (0, 1)}),
        ("soft_shrink", {"threshold": 1.0}),
        ("hard_shrink", {"threshold": 1.0}),
        ("squareplus", {"b": 1.0}),
        ("threshold", {"threshold": 0.3, "default_value": -1.0}),
        ("glu", {"axis": 0}),
    ],
)
def test_activation_arguments_match_keras(name, kwargs):
    ours = convert_to_numpy(getattr(activations, name)(INPUT, **kwargs))
    theirs = keras_numpy(getattr(keras.activations, name)(INPUT, **kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_sparsemax_matches_keras_when_one_entry_survives():
    peaked = np.array([[5.0, 0.0, -1.0], [0.0, 9.0, 1.0]], dtype="float32")
    ours = convert_to_numpy(activations.sparsemax(peaked))
    theirs = keras_numpy(keras.activations.sparsemax(peaked))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
