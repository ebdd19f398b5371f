import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.backend import convert_to_numpy  # noqa: E402
from lamina.layers.normalization.group_normalization import (  # noqa: E402
    GroupNormalization,
)
from lamina.layers.normalization.layer_normalization import (  # noqa: E402
    LayerNormalization,
)
from lamina.layers.normalization.unit_normalization import (  # noqa: E402
    UnitNormalization,
)

RNG = np.random.default_rng(3)


def keras_weights(layer):
    # Keras's own get_weights() trips a NumPy 2 DeprecationWarning (-W error).
    return [convert_to_numpy(v.value) for v in layer.weights]


def check_against_keras(ours, theirs, shape):
    """Same weights in, same outputs, weight shapes, param count and config."""
    x = (RNG.standard_normal(shape) * 2 + 0.5).astype("float32")
    theirs(x)
    ours(x)
    weights = [
        w + RNG.uniform(0.1, 0.5, w.shape).astype("float32")
        for w in keras_weights(theirs)
    ]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    np.testing.assert_allclose(
        convert_to_numpy(ours(x)), convert_to_numpy(theirs(x)), rtol=1e-5, atol=1e-5
    )
    assert [tuple(w.shape) for w in ours.get_weights()] == [
        tuple(w.shape) for w in weights
    ]
    assert [w.path.split("/")[-1] for w in ours.weights] == [
        w.path.split("/")[-1] for w in theirs.weights
    ]
    if ours.weights:
        assert ours.count_params() == theirs.count_params()
    a, b = ours.get_config(), theirs.get_config()
    a.pop("name"), b.pop("name")
    assert a == b


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((3, 6), {}),
        ((2, 3, 4), {"axis": [-2, -1], "epsilon": 1e-5}),
        ((2, 3, 4), {"center": False, "gamma_regularizer": "l2"}),
        ((2, 3, 4), {"axis": [0, 2]}),  # not trailing: the unfused path
    ],
)
def test_layer_normalization_matches_keras(shape, kwargs):
    check_against_keras(
        LayerNormalization(**kwargs), keras.layers.LayerNormalization(**kwargs), shape
    )


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((2, 4, 4, 6), {"groups": 3}),
        ((2, 6, 5), {"groups": 2, "axis": 1}),
        ((3, 8), {"groups": 4, "scale": False}),
        ((2, 5, 4), {"groups": -1, "epsilon": 1e-5}),
    ],
)
def test_group_normalization_matches_keras(shape, kwargs):
    check_against_keras(
        GroupNormalization(**kwargs), keras.layers.GroupNormalization(**kwargs), shape
    )


@pytest.mark.parametrize("axis", [-1, [1, 2], 1])
def test_unit_normalization_matches_keras(axis):
    check_against_keras(
        UnitNormalization(axis=axis),
        keras.layers.UnitNormalization(axis=axis),
        (2, 3, 4),
    )
